"""The checks before anything is made: the host (the doctor's preflight), the name free, the
mounts' host paths, the node image's facts."""

from __future__ import annotations

from pathlib import Path

from nestkube import doctor
from nestkube.config.host_check import check_against_provider
from nestkube.create import crio
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.images.node_image import (
    LABEL_IMAGE_TAGS,
    LABEL_K8S_VERSION,
    LABEL_MISSING,
    LABEL_PRELOADED,
    parse_components_label,
)


def preflight(ctx: CreateContext) -> None:
    """The doctor's checks for this engine and mode, and what the config asks of the host.

    They read files and already-probed facts only, so a host that cannot work fails here, in
    the doctor's words, before any container exists.
    """
    host_ports = [p.host_port for s in ctx.specs for p in s.port_mappings if p.host_port]
    doctor.raise_on_failures(
        doctor.preflight(ctx.provider.info, nodes=len(ctx.specs), host_ports=host_ports)
    )
    check_against_provider(ctx.config, ctx.provider.info)


def check_not_exists(ctx: CreateContext) -> None:
    """No node or volume of this cluster exists (run under the name's claim).

    Everything cleanup may remove is named by this create's plan, so the names must be free
    now: then whatever carries them later was made by this run.
    """
    if ctx.provider.list_nodes(ctx.name):
        # Under the claim no other create runs: these nodes are a cluster, or what a create
        # that was killed (SIGKILL, a lost host) left behind.
        raise ClusterError(already_exists(ctx.name))
    leftovers = ctx.provider.cluster_volumes(ctx.name)
    if leftovers:
        raise ClusterError(
            f"cluster {ctx.name!r} already exists: volumes {', '.join(sorted(leftovers))} are "
            f"left from it (remove them with `nestkube delete cluster --name {ctx.name}`)"
        )


def already_exists(name: str) -> str:
    return (
        f"cluster {name!r} already exists (or a create of it was killed before it finished); "
        f"delete it first: nestkube delete cluster --name {name}"
    )


def check_mounts(ctx: CreateContext) -> None:
    for spec in ctx.specs:
        for mount in spec.mounts:
            if not Path(mount.host_path).exists():
                raise ClusterError(
                    f"node {spec.name}: extraMounts hostPath {mount.host_path} does not exist"
                )


def read_image_facts(ctx: CreateContext) -> None:
    """Kubernetes version and missing images from the node image's labels."""
    images = {s.image for s in ctx.specs}
    for image in images:
        if not ctx.provider.image_exists(image):
            raise ClusterError(
                f"node image {image} not found in {ctx.provider.info.name}; "
                "build it with `nestkube build node-image`"
            )
    by_image = {image: ctx.provider.image_labels(image) for image in images}
    for spec, node in zip(ctx.specs, ctx.config.nodes, strict=False):
        ctx.node_runtimes[spec.name] = crio.check_runtime(
            spec.name, spec.image, node.runtime, by_image[spec.image]
        )
    labels = by_image[ctx.specs[0].image]
    ctx.kubernetes_version = labels.get(LABEL_K8S_VERSION, "")
    if not ctx.kubernetes_version:
        raise ClusterError(f"{ctx.specs[0].image} is not a nestkube node image (no version label)")
    ctx.missing_images = tuple(x for x in labels.get(LABEL_MISSING, "").split(",") if x)
    ctx.preloaded_images = tuple(x for x in labels.get(LABEL_PRELOADED, "").split(",") if x)
    ctx.image_tags = parse_components_label(labels.get(LABEL_IMAGE_TAGS, ""))
