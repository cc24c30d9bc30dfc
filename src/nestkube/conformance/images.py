"""The e2e test images, built locally under the names the release's image manifest expects.

Nothing is pulled: the names come from ``test/utils/image/manifest.go`` of the same
``k8s.io/kubernetes`` module the suite is built from, and every image is assembled from files
(no engine, no base image) by :mod:`nestkube.oci.archive`:

- agnhost (current and previous tag): the release's own ``test/images/agnhost``, built
  statically, with upstream's entrypoint (``/agnhost pause``), ``/agnhost-2``, ``/uploads``,
  porter's certificate and the in-image user and group; the shell tools upstream installs from
  Alpine come from Debian here: busybox-static's applets for the core tools, and ``dig``
  (bind9-dnsutils), ``curl``, ``nc`` (netcat-openbsd), ``bash`` (also ``/bin/sh``) and
  ``getent`` with the shared libraries they load, copied from this host's Debian packages.
- kitten, nautilus: upstream's are agnhost plus the files of ``test/images/<name>/html`` and
  ``CMD ["test-webserver"]``; built the same way from the same module.
- glibc-dns-testing: upstream's is Debian with dnsutils; here the same ``dig`` from this host's
  Debian packages, with bash as the shell and busybox's applets.
- busybox: Debian's busybox-static with every applet, ``CMD ["sh"]`` like upstream's, but bash
  as ``sh`` (see :func:`busybox_archive`).
- nginx (both tags): Debian's ``nginx`` package (with ``nginx-common``'s mime types and welcome
  page) and the libraries it loads, serving ``/usr/share/nginx/html`` on port 80 in the
  foreground like upstream's image, plus busybox for a shell; the packages are fetched with
  ``apt-get download`` once per candidate version and kept in the cache.
- pause: nestkube's own static pause program.
- nonewprivs: the module's ``test/images/nonewprivs``, static, setuid root as
  ``/usr/local/bin/nnp`` like upstream's, with busybox for a shell.
- sample-apiserver: ``k8s.io/sample-apiserver`` at the release's own tag, static, as
  ``/sample-apiserver`` (the entrypoint), with busybox.

Two tags of one image (agnhost's current and previous, nginx's two) are written as two images
that differ by a label: containerd reports one image's first tag for every tag of it, and specs
that change a pod's image from one tag to the other check which tag the pod runs.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256
from nestkube.errors import ImageBuildError
from nestkube.images.components import build_pause
from nestkube.kit.debs import debian_package_files
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive

RECIPE = "conformance-images-3"
LABEL_REF = "io.nestkube.e2e-image"
NGINX_PACKAGES = ("nginx", "nginx-common")
NGINX_CONF = """user root;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log /dev/stdout;
    server {
        listen 80 default_server;
        root /usr/share/nginx/html;
        index index.html;
    }
}
"""
BUSYBOX = Path("/bin/busybox")
# Debian programs the agnhost image carries beside busybox: image path -> (host path, package).
AGNHOST_TOOLS: dict[str, tuple[str, str]] = {
    "/usr/bin/dig": ("/usr/bin/dig", "bind9-dnsutils"),
    "/usr/bin/curl": ("/usr/bin/curl", "curl"),
    "/usr/bin/nc": ("/usr/bin/nc.openbsd", "netcat-openbsd"),
    "/usr/bin/getent": ("/usr/bin/getent", "libc-bin"),
}
_REGISTRY_RE = re.compile(r'^\s*(\w+Registry):\s*"([^"]+)"', re.M)
_CONFIG_RE = re.compile(r'configs\[(\w+)\]\s*=\s*Config\{list\.(\w+),\s*"([^"]+)",\s*"([^"]+)"\}')
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
# Upstream's agnhost (and kitten and nautilus, built on it) is Alpine Linux; the ImageVolume
# specs read the mounted image's /etc/os-release and look for those words. This image is not
# Alpine, and its os-release says what it is and what it stands in for.
AGNHOST_OS_RELEASE = (
    'NAME="nestkube e2e test image"\n'
    "ID=nestkube-e2e\n"
    "PRETTY_NAME=\"nestkube's agnhost test image, in place of upstream's Alpine Linux one\"\n"
)
GROUP = (
    "root:x:0:\nuser-defined-in-image:x:1000:\n"
    "group-defined-in-image:x:50000:user-defined-in-image\nnogroup:x:65534:\n"
)


def manifest_images(manifest_go: str) -> dict[str, str]:
    """Image ID (``Agnhost``, ``BusyBox``, ...) -> the reference e2e.test asks for."""
    registries = dict(_REGISTRY_RE.findall(manifest_go.split("initRegistry = RegistryList{")[-1]))
    images: dict[str, str] = {}
    for image_id, registry_field, name, version in _CONFIG_RE.findall(manifest_go):
        if registry_field not in registries:
            raise ImageBuildError(f"image manifest: {image_id} names unknown {registry_field}")
        images[image_id] = f"{registries[registry_field]}/{name}:{version}"
    if not images:
        raise ImageBuildError("image manifest: no image configurations found")
    return images


# The manifest's images built here, and from what.
BUILT = {
    "Agnhost": "agnhost of the same module (static) + busybox-static + Debian dig/curl/nc/bash",
    "AgnhostPrev": "the same agnhost under the previous tag",
    "BusyBox": "Debian busybox-static applets, Debian bash as sh",
    "Kitten": "agnhost + test/images/kitten/html of the module, CMD test-webserver",
    "Nautilus": "agnhost + test/images/nautilus/html of the module, CMD test-webserver",
    "GlibcDnsTesting": "busybox-static + Debian dig/bash/getent (upstream: Debian + dnsutils)",
    "Nginx": "Debian nginx 1.22 + busybox-static",
    "NginxNew": "Debian nginx 1.22 + busybox-static",
    "Pause": "nestkube's static pause.c",
    "Nonewprivs": "test/images/nonewprivs of the module (static, setuid) + busybox-static",
    "APIServer": "k8s.io/sample-apiserver at the release's tag (static) + busybox-static",
}


@dataclass
class TestImages:
    archives: list[Path] = field(default_factory=list)
    # reference -> what it is built from, for the report and docs
    refs: dict[str, str] = field(default_factory=dict)


def library_closure(binary: Path) -> list[Path]:
    """The shared libraries and loader ``binary`` needs, as ldd resolves them on this host."""
    out = _exec.run(["ldd", str(binary)], timeout=60, what=f"ldd {binary}", check=False)
    if "not a dynamic executable" in out.stdout + out.stderr:
        return []
    libs = []
    for line in out.stdout.splitlines():
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
        match = re.search(r"(/\S+)\s+\(0x", line)
        if "not found" in line:
            raise ImageBuildError(f"{binary}: {line.strip()}")
        if match:
            libs.append(Path(match[1]))
    return libs


def _tools_layer(layer: Layer, tools: dict[str, tuple[str, str]]) -> list[Path]:
    """Add Debian programs and their libraries to ``layer``; returns every file added."""
    added: list[Path] = []
    for dest, (source, package) in tools.items():
        src = Path(source)
        if not src.is_file():
            raise ImageBuildError(f"{source} missing: apt-get install {package}")
        layer.add_file(dest, src.resolve())
        added.append(src.resolve())
        for lib in library_closure(src):
            # Written under the path the loader looks for; the content is the link's target.
            layer.add_file(str(lib), lib.resolve(), 0o755)
            added.append(lib.resolve())
    return added


def _shell_and_tools(layer: Layer, tools: dict[str, tuple[str, str]]) -> None:
    """Busybox's applets, Debian ``tools`` and bash as /bin/sh.

    Debian's busybox shell runs its own applets before PATH (its nc lacks -v and -z), so the
    tests' `sh -c "... | nc -v ..."` reaches Debian's tools only through another shell.
    """
    _busybox_layer(layer, shell=False)
    _tools_layer(layer, {"/bin/bash": ("/bin/bash", "bash"), **tools})
    layer.add_symlink("/bin/sh", "bash")


def _etc_files(tmp: Path, layer: Layer) -> None:
    for name, text in (
        ("passwd", PASSWD),
        ("group", GROUP),
        ("nsswitch.conf", "hosts: files dns\n"),
    ):
        path = tmp / name
        path.write_text(text)
        layer.add_file(f"/etc/{name}", path, 0o644)
    layer.add_dir("/tmp", 0o1777)
    layer.add_dir("/root", 0o700)


def _busybox_layer(layer: Layer, *, shell: bool = True) -> None:
    """Busybox and its applets; without ``shell`` its sh is left out for another to take."""
    if not BUSYBOX.is_file():
        raise ImageBuildError("/bin/busybox missing: apt-get install busybox-static")
    layer.add_file("/bin/busybox", BUSYBOX)
    applets = _exec.run([str(BUSYBOX), "--list"], timeout=30, what="busybox --list").stdout
    skip = {"busybox", "bash"} if shell else {"busybox", "bash", "sh", "ash"}
    for applet in applets.split():
        if applet not in skip:
            layer.add_symlink(f"/bin/{applet}", "busybox")


def _cached_archive(name: str, inputs: list[object], write: Callable[[Path], None]) -> Path:
    """An archive keyed by everything that goes into it; written once, then reused."""
    final = cache_root() / "conformance" / "images" / f"{name}-{content_key([RECIPE, *inputs])}.tar"
    if not final.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp")
        try:
            write(tmp)
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
    return final


def agnhost_archive(
    ref: str, agnhost: Path, module_dir: Path, *, html_of: str = "", cmd: str = "pause"
) -> Path:
    """agnhost as upstream builds it; with ``html_of`` (kitten, nautilus) that image's
    ``test/images/<name>/html`` files at / and another agnhost command, as those images are."""
    porter = module_dir / "test" / "images" / "agnhost" / "porter"
    html = sorted((module_dir / "test" / "images" / html_of / "html").iterdir()) if html_of else []
    tool_sources = [
        (dest, Path(src).resolve(), _sha_or_missing(Path(src)))
        for dest, (src, _) in AGNHOST_TOOLS.items()
    ]
    inputs: list[object] = [ref, file_sha256(agnhost), tool_sources, file_sha256(BUSYBOX)]
    inputs.append(_sha_or_missing(Path("/bin/bash")))
    inputs += [cmd, [(f.name, file_sha256(f)) for f in html], AGNHOST_OS_RELEASE]

    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-agnhost-") as tmp:
            layer = Layer().add_file("/agnhost", agnhost).add_symlink("/agnhost-2", "agnhost")
            layer.add_dir("/uploads")
            for name in ("localhost.crt", "localhost.key"):
                layer.add_file(f"/{name}", porter / name, 0o644)
            _shell_and_tools(layer, AGNHOST_TOOLS)
            _etc_files(Path(tmp), layer)
            os_release = Path(tmp) / "os-release"
            os_release.write_text(AGNHOST_OS_RELEASE)
            layer.add_file("/etc/os-release", os_release, 0o644)
            # A layer of its own, as upstream's COPY: the agnhost layer stays shared content.
            layers = [layer]
            if html:
                layers.append(Layer())
                for f in html:
                    layers[1].add_file(f"/{f.name}", f, 0o644)
            spec = ImageSpec(
                tags=[ref],
                layers=layers,
                entrypoint=["/agnhost"],
                cmd=[cmd],
                labels={LABEL_REF: ref},
            )
            write_image_archive(spec, dest)

    return _cached_archive(html_of or "agnhost", inputs, write)


def glibc_dns_archive(ref: str) -> Path:
    """Upstream's is Debian with dnsutils: the same dig, bash and getent from this host."""
    tools = {k: v for k, v in AGNHOST_TOOLS.items() if k in ("/usr/bin/dig", "/usr/bin/getent")}
    sources = [
        (dest, Path(src).resolve(), _sha_or_missing(Path(src))) for dest, (src, _) in tools.items()
    ]
    inputs: list[object] = [ref, sources, _sha_or_missing(Path("/bin/bash")), file_sha256(BUSYBOX)]

    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-glibc-dns-") as tmp:
            layer = Layer()
            _shell_and_tools(layer, tools)
            _etc_files(Path(tmp), layer)
            write_image_archive(ImageSpec(tags=[ref], layers=[layer], cmd=["sh"]), dest)

    return _cached_archive("glibc-dns-testing", inputs, write)


def _sha_or_missing(path: Path) -> str:
    # A missing tool fails the build with its package's name; the key must not fail first.
    return file_sha256(path) if path.is_file() else "missing"


def busybox_archive(ref: str) -> Path:
    """Busybox's applets with bash as sh: Debian's busybox 1.35 shell drops environment
    variables whose names are no shell identifiers (``data-1``), which upstream's busybox 1.37
    passes on and the ConfigMap and Secret environment specs look for."""

    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-busybox-") as tmp:
            layer = Layer()
            _shell_and_tools(layer, {})
            _etc_files(Path(tmp), layer)
            layer.add_dir("/home")
            layer.add_dir("/var")
            write_image_archive(ImageSpec(tags=[ref], layers=[layer], cmd=["sh"]), dest)

    inputs: list[object] = [ref, file_sha256(BUSYBOX), _sha_or_missing(Path("/bin/bash"))]
    return _cached_archive("busybox", inputs, write)


def nginx_archive(ref: str) -> Path:
    files = debian_package_files(NGINX_PACKAGES) / "root"
    nginx = files / "usr" / "sbin" / "nginx"
    sources = [files / "etc/nginx/mime.types", files / "usr/share/nginx/html/index.html"]
    inputs: list[object] = [ref, NGINX_CONF, file_sha256(nginx), file_sha256(BUSYBOX)]
    inputs += [file_sha256(s) for s in sources]

    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-nginx-") as tmp:
            layer = Layer().add_file("/usr/sbin/nginx", nginx)
            for lib in library_closure(nginx):
                layer.add_file(str(lib), lib.resolve(), 0o755)
            layer.add_file("/etc/nginx/mime.types", sources[0], 0o644)
            layer.add_file("/usr/share/nginx/html/index.html", sources[1], 0o644)
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF)
            layer.add_file("/etc/nginx/nginx.conf", conf, 0o644)
            for directory in ("/var/log/nginx", "/var/lib/nginx", "/run"):
                layer.add_dir(directory)
            _busybox_layer(layer)
            _etc_files(Path(tmp), layer)
            spec = ImageSpec(
                tags=[ref],
                layers=[layer],
                cmd=["nginx", "-g", "daemon off;"],
                labels={LABEL_REF: ref},
            )
            write_image_archive(spec, dest)

    return _cached_archive("nginx", inputs, write)


def pause_archive(ref: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="nestkube-pause-") as tmp:
        pause = build_pause(Path(tmp))
        digest = file_sha256(pause)

        def write(dest: Path) -> None:
            layer = Layer().add_file("/pause", pause)
            write_image_archive(ImageSpec(tags=[ref], layers=[layer], entrypoint=["/pause"]), dest)

        return _cached_archive("pause", [ref, digest], write)


def nonewprivs_archive(ref: str, nnp: Path) -> Path:
    """Upstream's: Alpine with ``nnp`` setuid root; it prints its effective uid, which stays the
    caller's when privilege escalation is off."""

    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-nnp-") as tmp:
            layer = Layer().add_file("/usr/local/bin/nnp", nnp, 0o4755)
            _busybox_layer(layer)
            _etc_files(Path(tmp), layer)
            spec = ImageSpec(tags=[ref], layers=[layer], cmd=["nnp"], labels={LABEL_REF: ref})
            write_image_archive(spec, dest)

    return _cached_archive("nonewprivs", [ref, file_sha256(nnp), file_sha256(BUSYBOX)], write)


def sample_apiserver_archive(ref: str, server: Path) -> Path:
    def write(dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-sample-apiserver-") as tmp:
            layer = Layer().add_file("/sample-apiserver", server)
            _busybox_layer(layer)
            _etc_files(Path(tmp), layer)
            spec = ImageSpec(
                tags=[ref],
                layers=[layer],
                entrypoint=["/sample-apiserver"],
                labels={LABEL_REF: ref},
            )
            write_image_archive(spec, dest)

    inputs: list[object] = [ref, file_sha256(server), file_sha256(BUSYBOX)]
    return _cached_archive("sample-apiserver", inputs, write)


@dataclass(frozen=True)
class TestPrograms:
    """The Go programs the test images carry, built from their modules for the release."""

    agnhost: Path
    nnp: Path
    sample_apiserver: Path


def build_test_images(module_dir: Path, programs: TestPrograms) -> TestImages:
    """Archives of every image the runnable conformance tests use, named as the release asks."""
    manifest = (module_dir / "test" / "utils" / "image" / "manifest.go").read_text()
    images = manifest_images(manifest)
    missing = set(BUILT) - set(images)
    if missing:
        raise ImageBuildError(f"image manifest names no {', '.join(sorted(missing))}")
    out = TestImages()
    for image_id, source in BUILT.items():
        ref = images[image_id]
        agnhost = programs.agnhost
        if image_id.startswith("Agnhost"):
            out.archives.append(agnhost_archive(ref, agnhost, module_dir))
        elif image_id in ("Kitten", "Nautilus"):
            html_of = image_id.lower()
            out.archives.append(
                agnhost_archive(ref, agnhost, module_dir, html_of=html_of, cmd="test-webserver")
            )
        elif image_id == "Nonewprivs":
            out.archives.append(nonewprivs_archive(ref, programs.nnp))
        elif image_id == "APIServer":
            out.archives.append(sample_apiserver_archive(ref, programs.sample_apiserver))
        elif image_id.startswith("Nginx"):
            out.archives.append(nginx_archive(ref))
        elif image_id == "GlibcDnsTesting":
            out.archives.append(glibc_dns_archive(ref))
        elif image_id == "BusyBox":
            out.archives.append(busybox_archive(ref))
        else:
            out.archives.append(pause_archive(ref))
        out.refs[ref] = source
    return out
