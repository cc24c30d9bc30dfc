"""The default StorageClass: its manifests, and the create step that installs them (or not)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes_engine import UnusedEngine

from nestkube import storage
from nestkube._exec import Result
from nestkube.config import ClusterConfig, load_config
from nestkube.create import objects, plan
from nestkube.create.context import CreateContext
from nestkube.status import SILENT, Status


def docs() -> dict[str, Any]:
    return {d["kind"]: d for d in yaml.safe_load_all(storage.manifests())}


def test_the_storage_class_is_the_default_and_binds_where_the_pod_runs() -> None:
    sc = docs()["StorageClass"]
    assert sc["metadata"] == {
        "name": "standard",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    }
    assert sc["provisioner"] == "rancher.io/local-path"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"


def test_the_provisioner_and_its_helper_pods_use_the_local_image_never_pulled() -> None:
    text = storage.manifests()
    assert f"--helper-image={storage.IMAGE}" in text
    deployment = docs()["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["imagePullPolicy"]) == (storage.IMAGE, "Never")
    data = docs()["ConfigMap"]["data"]
    helper = yaml.safe_load(data["helperPod.yaml"])
    assert helper["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert '"paths": ["/var/local-path-provisioner"]' in data["config.json"]
    assert {"setup", "teardown"} <= set(data)


class Recorder(UnusedEngine):
    def __init__(self) -> None:
        super().__init__()
        self.applied: list[str] = []
        self.manifests: list[str] = []

    def exec(
        self,
        node: str,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        check: bool = True,
        what: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        assert isinstance(input, str)
        self.manifests.append(input)
        if "kind: StorageClass" in input:
            self.applied.append(node)
        return Result(list(args), 0, "", "")


def context(cfg: ClusterConfig, engine: Recorder, preloaded: tuple[str, ...]) -> CreateContext:
    ctx = CreateContext(config=cfg, provider=engine, status=SILENT)
    plan.plan_nodes(ctx, "node:1")
    ctx.preloaded_images = preloaded
    ctx.kubernetes_version = "v1.20.2"  # no agent token: the apply is the only command
    return ctx


KIND_1_1 = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- {}\n- {role: worker}\n"


def test_create_applies_it_once_when_the_node_image_preloads_the_provisioner() -> None:
    engine = Recorder()
    cfg = load_config("c.yaml", text=KIND_1_1)
    objects.install_cluster_objects(context(cfg, engine, (storage.IMAGE,)))
    assert engine.applied == ["nestkube-control-plane"]
    # In the same apply: the default ServiceAccount, so pods are admitted at once.
    [manifest] = engine.manifests
    assert objects.DEFAULT_SERVICE_ACCOUNT in manifest


def test_an_image_without_the_provisioner_gets_a_warning_and_no_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = Recorder()
    cfg = load_config("c.yaml", text=KIND_1_1)
    ctx = context(cfg, engine, ("registry.k8s.io/pause:3.10.2",))
    ctx.status = Status()
    objects.install_cluster_objects(ctx)
    assert engine.applied == [] and len(engine.manifests) == 1
    assert "no default StorageClass" in capsys.readouterr().err


def test_the_image_archive_holds_the_provisioner_and_busybox(tmp_path: Path) -> None:
    binary = tmp_path / "local-path-provisioner"
    binary.write_bytes(b"\x7fELF provisioner")
    archive = storage.image_archive(tmp_path / "lpp.tar", binary)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [storage.IMAGE]


def test_default_storage_class_false_installs_nothing() -> None:
    engine = Recorder()
    cfg = load_config(
        "c.yaml",
        text="kind: Cluster\napiVersion: nestkube.io/v1alpha1\ndefaultStorageClass: false\n",
    )
    assert cfg.default_storage_class is False
    objects.install_cluster_objects(context(cfg, engine, (storage.IMAGE,)))
    assert engine.applied == [] and len(engine.manifests) == 1


def test_kind_documents_get_it() -> None:
    cfg = load_config("c.yaml", text="kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    assert cfg.default_storage_class is True
