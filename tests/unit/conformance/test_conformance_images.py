"""Test images under the manifest's names, written without an engine and cached by content."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from nestkube.conformance import images
from nestkube.conformance.images import agnhost_archive, busybox_archive, manifest_images
from nestkube.errors import ImageBuildError
from nestkube.load import read_archive_images

MANIFEST = """
var (
	initRegistry = RegistryList{
		PromoterE2eRegistry:      "registry.k8s.io/e2e-test-images",
		GcRegistry:               "registry.k8s.io",
		DockerLibraryRegistry:    "docker.io/library",
	}
)
func initImageConfigs(list RegistryList) (map[ImageID]Config, map[ImageID]Config) {
	configs[AgnhostPrev] = Config{list.PromoterE2eRegistry, "agnhost", "2.55"}
	configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "2.66.1"}
	configs[BusyBox] = Config{list.PromoterE2eRegistry, "busybox", "1.37.0-2"}
	configs[Pause] = Config{list.GcRegistry, "pause", "3.10.2"}
}
"""


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_manifest_names_every_image_with_its_registry() -> None:
    refs = manifest_images(MANIFEST)
    assert refs["Agnhost"] == "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
    assert refs["AgnhostPrev"] == "registry.k8s.io/e2e-test-images/agnhost:2.55"
    assert refs["Pause"] == "registry.k8s.io/pause:3.10.2"


def test_manifest_with_an_unknown_registry_is_refused() -> None:
    with pytest.raises(ImageBuildError, match="unknown PrivateRegistry"):
        manifest_images(MANIFEST + '\tconfigs[X] = Config{list.PrivateRegistry, "x", "1"}\n')


def image_config_and_files(archive: Path) -> tuple[dict[str, object], dict[str, tarfile.TarInfo]]:
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = json.loads(tar.extractfile(manifest[0]["Config"]).read())  # type: ignore[union-attr]
        files: dict[str, tarfile.TarInfo] = {}
        for layer in manifest[0]["Layers"]:
            blob = tar.extractfile(layer).read()  # type: ignore[union-attr]
            with tarfile.open(fileobj=io.BytesIO(blob)) as inner:
                files.update({m.name: m for m in inner.getmembers()})
    return config["config"], files


def test_busybox_image_has_every_applet_and_runs_sh(cache: Path) -> None:
    ref = "registry.k8s.io/e2e-test-images/busybox:1.37.0-2"
    archive = busybox_archive(ref)
    assert read_archive_images(archive)[0].tags == (ref,)
    config, files = image_config_and_files(archive)
    assert config["Cmd"] == ["sh"]
    # Debian's busybox sh drops variables like data-1 from the environment; bash keeps them.
    assert files["bin/sh"].linkname == "bash" and "bin/bash" in files
    assert files["bin/wget"].linkname == "busybox" and files["tmp"].mode == 0o1777
    assert busybox_archive(ref) == archive  # cached by content


def test_agnhost_image_like_upstreams_with_debian_tools_and_their_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "module"
    porter = module / "test" / "images" / "agnhost" / "porter"
    porter.mkdir(parents=True)
    for name in ("localhost.crt", "localhost.key"):
        (porter / name).write_text(name)
    agnhost = tmp_path / "agnhost"
    agnhost.write_text("agnhost")
    monkeypatch.setattr(
        images,
        "AGNHOST_TOOLS",
        {"/usr/bin/getent": ("/usr/bin/getent", "libc-bin")},
    )
    archive = agnhost_archive("r/agnhost:2.66.1", agnhost, module)
    previous = agnhost_archive("r/agnhost:2.55", agnhost, module)
    assert read_archive_images(archive)[0].tags == ("r/agnhost:2.66.1",)
    # Two images, not two tags of one: containerd would report either tag for both.
    assert read_archive_images(archive)[0].image_id != read_archive_images(previous)[0].image_id
    config, files = image_config_and_files(archive)
    assert config["Entrypoint"] == ["/agnhost"] and config["Cmd"] == ["pause"]
    assert files["agnhost-2"].linkname == "agnhost"
    # Busybox's shell prefers its own applets to PATH; the image's sh is bash.
    assert files["bin/sh"].linkname == "bash"
    assert files["bin/wget"].linkname == "busybox"
    assert files["uploads"].isdir() and "localhost.crt" in files
    assert "usr/bin/getent" in files
    # getent is dynamic: its loader and libc come along under the paths the loader wants.
    assert any(name.endswith("libc.so.6") for name in files)
    assert any("ld-linux" in name for name in files)
    assert files["etc/passwd"].size > 0 and files["etc/group"].size > 0


def test_missing_debian_tool_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "AGNHOST_TOOLS", {"/usr/bin/dig": ("/nonexistent/dig", "dnsx")})
    agnhost = tmp_path / "agnhost"
    agnhost.write_text("a")
    with pytest.raises(ImageBuildError, match="apt-get install dnsx"):
        agnhost_archive("r/agnhost:1", agnhost, tmp_path)
    assert not list((tmp_path / "cache").rglob("*.tar"))


def test_glibc_dns_image_has_dig_and_getent_with_bash_as_sh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # getent stands in for dig here (both are Debian programs resolved through ldd).
    monkeypatch.setattr(
        images,
        "AGNHOST_TOOLS",
        {
            "/usr/bin/dig": ("/usr/bin/getent", "bind9-dnsutils"),
            "/usr/bin/getent": ("/usr/bin/getent", "libc-bin"),
            "/usr/bin/curl": ("/nonexistent/curl", "curl"),
        },
    )
    archive = images.glibc_dns_archive("r/glibc-dns-testing:2.1.1")
    config, files = image_config_and_files(archive)
    assert {"usr/bin/dig", "usr/bin/getent", "bin/bash"} <= set(files)
    assert "usr/bin/curl" not in files  # only the DNS tools
    assert files["bin/sh"].linkname == "bash" and files["bin/seq"].linkname == "busybox"
    assert config["Cmd"] == ["sh"]


def test_kitten_is_agnhost_with_its_html_and_test_webserver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "module"
    porter = module / "test" / "images" / "agnhost" / "porter"
    porter.mkdir(parents=True)
    for name in ("localhost.crt", "localhost.key"):
        (porter / name).write_text(name)
    html = module / "test" / "images" / "kitten" / "html"
    html.mkdir(parents=True)
    (html / "data.json").write_text('{"image": "kitten.jpg"}')
    agnhost = tmp_path / "agnhost"
    agnhost.write_text("agnhost")
    monkeypatch.setattr(images, "AGNHOST_TOOLS", {})
    archive = agnhost_archive(
        "r/kitten:1.8", agnhost, module, html_of="kitten", cmd="test-webserver"
    )
    assert archive.name.startswith("kitten-")
    config, files = image_config_and_files(archive)
    assert config["Entrypoint"] == ["/agnhost"] and config["Cmd"] == ["test-webserver"]
    assert "data.json" in files and "agnhost" in files
    # The ImageVolume specs read it from the mounted image and look for "Alpine Linux".
    assert files["etc/os-release"].size > 0


def test_nonewprivs_is_nnp_setuid_root_like_upstreams(tmp_path: Path) -> None:
    nnp = tmp_path / "nnp"
    nnp.write_text("nnp")
    archive = images.nonewprivs_archive("registry.k8s.io/e2e-test-images/nonewprivs:1.4", nnp)
    config, files = image_config_and_files(archive)
    assert config["Cmd"] == ["nnp"]
    binary = files["usr/local/bin/nnp"]
    assert binary.mode == 0o4755 and binary.uid == 0
    assert files["bin/sh"].linkname == "busybox"


def test_sample_apiserver_runs_its_server_as_the_entrypoint(tmp_path: Path) -> None:
    server = tmp_path / "sample-apiserver"
    server.write_text("server")
    ref = "registry.k8s.io/e2e-test-images/sample-apiserver:1.29.2"
    archive = images.sample_apiserver_archive(ref, server)
    assert read_archive_images(archive)[0].tags == (ref,)
    config, files = image_config_and_files(archive)
    assert config["Entrypoint"] == ["/sample-apiserver"] and "sample-apiserver" in files


def test_the_programs_come_from_the_releases_own_modules() -> None:
    from nestkube.conformance import suite

    server = suite.sample_apiserver_build("v1.37.2")
    assert (server.module, server.version) == ("k8s.io/sample-apiserver", "v0.37.2")
    nnp = suite.nonewprivs_build("v1.34.3")
    assert (nnp.module, nnp.version) == ("k8s.io/kubernetes", "v1.34.3")
    assert nnp.commands == {"nnp": "k8s.io/kubernetes/test/images/nonewprivs"}
