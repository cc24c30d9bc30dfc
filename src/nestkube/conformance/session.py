"""One conformance run: a cluster (made or given), its release's suite and images, both passes.

The release is the cluster's own (its nodes' version label), so e2e.test, the test images and
the kit's kubectl always come from the same ``k8s.io/kubernetes`` module as the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nestkube import cluster as facade
from nestkube import load
from nestkube.config import default_config
from nestkube.conformance.images import TestPrograms, build_test_images
from nestkube.conformance.report import Summary
from nestkube.conformance.run import ConformanceError, run_passes
from nestkube.conformance.suite import (
    agnhost_build,
    build_suite,
    module_source,
    nonewprivs_build,
    sample_apiserver_build,
)
from nestkube.images.node_image import LABEL_K8S_VERSION
from nestkube.kit.gomod import build_module
from nestkube.kit.releases import kubernetes_build
from nestkube.kit.toolchain import modules_toolchain
from nestkube.kubeadm.registries import REGISTRY_PORT
from nestkube.names import cluster_name
from nestkube.oci.push import push_archive
from nestkube.providers import get_provider
from nestkube.providers.base import Provider
from nestkube.status import SILENT, Status

# Where every image of Kubernetes' test manifest comes from.
TEST_IMAGES_REGISTRY = "registry.k8s.io"


@dataclass(frozen=True)
class Options:
    name: str
    report_dir: Path
    focus: Sequence[str]
    skip: Sequence[str] = ()
    procs: int = 4
    workers: int = 2
    image: str | None = None
    provider: str | None = None
    keep: bool = False  # keep a cluster this run created
    timeout: float = 6 * 3600.0
    # A registry (made with `nestkube registry create`) a cluster this run creates pulls the
    # test images' registry through: the specs that pull with `Always` then run offline.
    registry: str | None = None


@dataclass(frozen=True)
class Outcome:
    summary: Summary
    version: str
    created: bool
    report_dir: Path


def run_conformance(opts: Options, status: Status = SILENT) -> Outcome:
    """Create ``opts.name`` unless it exists, run the suite, delete what this run created."""
    cluster_name(opts.name)
    engine = get_provider(opts.provider)
    created = not engine.list_nodes(opts.name)
    if created:
        config = default_config(opts.name, workers=opts.workers, image=opts.image)
        if opts.registry:
            config = config.with_overrides(
                registries=[opts.registry],
                registry_mirrors={TEST_IMAGES_REGISTRY: f"http://{opts.registry}:{REGISTRY_PORT}"},
            )
        facade.create_cluster(config, provider=engine, image=opts.image, status=status)
    try:
        return _run_on(opts, engine, created, status)
    finally:
        if created and not opts.keep:
            facade.delete_cluster(opts.name, provider=engine, status=status)


def push_to_registry(name: str, engine: Provider, archives: list[Path], status: Status) -> None:
    """The test images pushed to the registry the cluster uses, under their upstream paths: with
    the cluster's nodes pulling ``registry.k8s.io`` through it (``registryMirrors``), a spec that
    pulls with ``imagePullPolicy: Always`` gets the image it would get online."""
    attached = [r for r in facade.list_registries(provider=engine) if name in r.clusters]
    if not attached:
        status.info(
            "no registry attached: specs that pull with imagePullPolicy Always will fail "
            "(see `nestkube conformance --registry`)"
        )
        return
    registry = attached[0]
    with status.step(f"Pushing the test images to registry {registry.name!r}"):
        for archive in archives:
            push_archive(archive, registry.host)


def _run_on(opts: Options, engine: Provider, created: bool, status: Status) -> Outcome:
    """The suite on the engine ``run_conformance`` resolved, handed down (never its name)."""
    nodes = facade.list_nodes(opts.name, provider=engine)
    version = nodes[0].labels.get(LABEL_K8S_VERSION, "")
    if not version:
        raise ConformanceError(f"cluster {opts.name!r} has no {LABEL_K8S_VERSION} label")
    toolchain = modules_toolchain()
    suite = build_suite(version, toolchain, status)
    kubectl = build_module(kubernetes_build(version), toolchain, status).path("kubectl")
    programs = TestPrograms(
        agnhost=build_module(agnhost_build(version), toolchain, status).path("agnhost"),
        nnp=build_module(nonewprivs_build(version), toolchain, status).path("nnp"),
        sample_apiserver=build_module(sample_apiserver_build(version), toolchain, status).path(
            "sample-apiserver"
        ),
    )
    with status.step("Building the test images"):
        images = build_test_images(module_source(version, toolchain), programs)
    for archive in images.archives:
        load.load_archive(
            archive, cluster=opts.name, provider=engine.info.name, engines=[engine], status=status
        )
    push_to_registry(opts.name, engine, images.archives, status)
    opts.report_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = opts.report_dir / "kubeconfig"
    kubeconfig.write_text(facade.get_kubeconfig(opts.name, provider=engine))
    os.chmod(kubeconfig, 0o600)
    summary = run_passes(
        suite,
        focus=opts.focus,
        skip=opts.skip,
        procs=opts.procs,
        report_dir=opts.report_dir,
        kubeconfig=kubeconfig,
        kubectl=kubectl,
        timeout=opts.timeout,
        status=status,
    )
    (opts.report_dir / "summary.txt").write_text("\n".join(summary.lines()) + "\n")
    return Outcome(summary, version, created, opts.report_dir)
