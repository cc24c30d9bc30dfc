"""`nestkube build node-image` and `nestkube kit ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nestkube.cli import groups, options
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION

# The image builder and the kit are imported inside the commands that use them.


@groups.build_app.command("node-image")
def node_image(
    kubernetes_binaries: Path | None = typer.Option(
        None,
        "--kubernetes-binaries",
        help="Directory holding kubeadm, kubelet, kubectl, kube-apiserver, "
        "kube-controller-manager, kube-scheduler and kube-proxy.",
    ),
    kubernetes_version: str | None = typer.Option(
        None,
        "--kubernetes-version",
        help="Build this release (vX.Y.Z, v1.34 or later) from the k8s.io/kubernetes Go module "
        f"(default {DEFAULT_KUBERNETES_VERSION}), or download it from --release-url.",
    ),
    release_url: str | None = typer.Option(
        None,
        "--release-url",
        help="Base URL of a release mirror laid out as <url>/<version>/bin/linux/<arch>/<cmd> "
        "with <cmd>.sha256 beside each file.",
    ),
    kubernetes_source: Path | None = typer.Option(
        None,
        "--kubernetes-source",
        help="A Kubernetes source tree to compile with the modules Go.",
    ),
    debian_source: bool = typer.Option(
        False,
        "--debian-source",
        help="Kubernetes v1.20.2 from Debian's source package, built with Debian's Go.",
    ),
    base_image: str | None = typer.Option(
        None,
        "--base-image",
        help="Image to build on (Debian 12 based). Default: the offline kit's debootstrap base.",
    ),
    image: str | None = typer.Option(
        None, "--image", help="Name of the node image. Default: localhost/nestkube/node:<version>."
    ),
    provider: Annotated[
        str | None, options.provider_option(help="Engine to build with. Default: found.")
    ] = None,
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Do not try a registry for an image with no offline source (a CoreDNS whose "
        "module is not served); record it as missing in the image's labels instead.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Rebuild even when an image from the same inputs exists."
    ),
    runtime: str = typer.Option(
        "containerd",
        "--runtime",
        help="containerd, or cri-o: CRI-O of the Kubernetes minor, built from its Go module "
        "(tagged <version>-crio; CRI-O exists for v1.34 only).",
    ),
    image_format: str = typer.Option(
        "nestkube",
        "--format",
        help="nestkube, or kind: also add kind's node files on top so the real kind boots it "
        "(--image then names that image; default localhost/nestkube/kind-node:<version>).",
    ),
) -> None:
    """Build a node image on any engine, with every component image preloaded.

    With no Kubernetes source named, the kit builds the default release and every component
    (etcd, CoreDNS, containerd, runc, CNI plugins, crictl) from their Go modules, cached under
    $XDG_CACHE_HOME/nestkube.
    """
    from nestkube.images.node_image import build_node_image
    from nestkube.images.sources import resolve_binaries
    from nestkube.providers import get_provider

    status = groups.status()
    if runtime not in ("containerd", "cri-o"):
        raise typer.BadParameter(
            f"{runtime!r}: expected containerd or cri-o", param_hint="--runtime"
        )
    if runtime == "cri-o":
        from nestkube.kit.crio import require_crio

        if image_format == "kind":
            raise typer.BadParameter("kind's node format runs containerd", param_hint="--runtime")
        # Before Kubernetes is built: a minor without a CRI-O fails in a second, not an hour.
        require_crio(kubernetes_version or DEFAULT_KUBERNETES_VERSION)
    if image_format not in ("nestkube", "kind"):
        raise typer.BadParameter(
            f"{image_format!r}: expected nestkube or kind", param_hint="--format"
        )
    binaries = resolve_binaries(
        binaries_dir=kubernetes_binaries,
        version=kubernetes_version,
        release_url=release_url,
        source_dir=kubernetes_source,
        debian_source=debian_source,
        status=status,
    )
    engine = get_provider(provider)
    kind = image_format == "kind"
    result = build_node_image(
        engine,
        binaries,
        image=None if kind else image,
        base_image=base_image,
        pull_missing=not offline,
        force=force,
        runtime=runtime,
        status=status,
    )
    if kind:
        from nestkube.images.kind_format import build_kind_image

        result = build_kind_image(engine, result.image, image=image, force=force, status=status)
    size = f"{result.size_bytes / 1e6:.0f} MB" if result.size_bytes else "unknown size"
    status.info(
        f"Node image {result.image} (Kubernetes {result.kubernetes_version}, {size}, "
        f"{len(result.preloaded)} images preloaded)"
    )
    typer.echo(result.image)


@groups.kit_app.command("kubernetes")
def kit_kubernetes(
    version: str = typer.Option(
        DEFAULT_KUBERNETES_VERSION, "--version", help="Release to build from its Go module."
    ),
    debian_source: bool = typer.Option(
        False, "--debian-source", help="Build v1.20.2 from Debian's source package instead."
    ),
) -> None:
    """Build Kubernetes' seven commands (cached) and print the binaries' directory."""
    from nestkube.images.release import validate_version
    from nestkube.kit.kubernetes import build_from_debian_source, build_from_modules

    if debian_source:
        binaries = build_from_debian_source(groups.status())
    else:
        binaries = build_from_modules(validate_version(version), groups.status())
    typer.echo(str(binaries.directory))


@groups.kit_app.command("base-image")
def kit_base_image(
    provider: Annotated[
        str | None, options.provider_option(help="Engine to import into. Default: found.")
    ] = None,
) -> None:
    """Make the Debian 12 minbase image with debootstrap (cached) and import it; print its name."""
    from nestkube.images.node_image import ensure_kit_base
    from nestkube.providers import get_provider

    typer.echo(ensure_kit_base(get_provider(provider), groups.status()))
