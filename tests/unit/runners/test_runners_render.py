"""Helm values and manifests per mode, auth type, min/max and per-instance caches (for ARC's
charts 0.6.1, the pinned version)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from nestkube.config.model import ExtraMount
from nestkube.runners import model, render

ROOT = Path("/cache")


def runner(body: str) -> model.RunnerDoc:
    head = "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\nrunners:\n- "
    text = head + textwrap.indent(textwrap.dedent(body), "  ").lstrip()
    return model.parse(text, Path("r.yaml")).doc.runners[0]


PAT = "auth: {pat: {tokenEnv: T}}\n"


def test_kubernetes_mode_values_exactly() -> None:
    r = runner("name: ci\nrepository: https://github.com/o/r\nmin: 1\nmax: 4\n" + PAT)
    [inst] = render.instances(r, ROOT)
    assert inst.release == "ci" and inst.caches == ()
    assert render.values(r, inst) == {
        "githubConfigUrl": "https://github.com/o/r",
        "githubConfigSecret": "ci-github",
        "runnerScaleSetName": "ci",
        "minRunners": 1,
        "maxRunners": 4,
        "controllerServiceAccount": {"namespace": "arc-systems", "name": "arc-gha-rs-controller"},
        # The chart's kubernetes mode: job pods share the runner's work volume, claimed from
        # the cluster's default StorageClass (no storageClassName).
        "containerMode": {
            "type": "kubernetes",
            "kubernetesModeWorkVolumeClaim": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "runner",
                        "image": "ghcr.io/actions/actions-runner:latest",
                        "command": ["/home/runner/run.sh"],
                    }
                ]
            }
        },
    }
    assert render.hook_template(r, inst) is None


def test_org_url_and_image() -> None:
    r = runner("name: ci\norg: acme\nimage: localhost/r:1\n" + PAT)
    [inst] = render.instances(r, ROOT)
    values = render.values(r, inst)
    assert values["githubConfigUrl"] == "https://github.com/acme"
    assert values["template"]["spec"]["containers"][0]["image"] == "localhost/r:1"


def test_min_and_max_are_always_rendered() -> None:
    r = runner("name: ci\norg: acme\n" + PAT)
    values = render.values(r, render.instances(r, ROOT)[0])
    assert (values["minRunners"], values["maxRunners"]) == (0, 1)
    assert "scaleSetLabels" not in values


def test_instances_are_separate_scale_sets() -> None:
    r = runner("name: ci\norg: acme\ninstances: 3\n" + PAT)
    insts = render.instances(r, ROOT)
    assert [i.release for i in insts] == ["ci-1", "ci-2", "ci-3"]
    for inst in insts:
        values = render.values(r, inst)
        assert values["runnerScaleSetName"] == inst.release
        assert values["githubConfigSecret"] == f"{inst.release}-github"
        assert "scaleSetLabels" not in values


def _volumes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in spec["volumes"]}


def _mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in container["volumeMounts"]}


def test_privileged_mode_hook_template_and_per_instance_caches() -> None:
    r = runner(
        "name: docker\nrepository: https://github.com/o/r\nmode: privileged\n"
        "caches: [/var/lib/docker, /root/.cache]\ninstances: 2\n" + PAT
    )
    first, second = render.instances(r, ROOT)
    assert [c.host for c in first.caches] == [Path("/cache/docker/1/1"), Path("/cache/docker/1/2")]
    assert [c.host for c in second.caches] == [
        Path("/cache/docker/2/1"),
        Path("/cache/docker/2/2"),
    ]
    values = render.values(r, second)
    assert values["containerMode"]["type"] == "kubernetes"
    spec = values["template"]["spec"]
    container = spec["containers"][0]
    assert container["env"] == [
        {
            "name": "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
            "value": "/home/runner/pod-template/content",
        }
    ]
    assert _mounts(container)["hook-template"]["mountPath"] == "/home/runner/pod-template"
    assert spec["volumes"] == [
        {"name": "hook-template", "configMap": {"name": "docker-2-hook-template"}}
    ]

    template = render.hook_template(r, second)
    assert template is not None
    [job] = template["spec"]["containers"]
    assert job["name"] == "$job"
    assert job["securityContext"] == {"privileged": True, "runAsUser": 0, "runAsGroup": 0}
    mounts = _mounts(job)
    assert {n: m["mountPath"] for n, m in mounts.items()} == {
        "sys": "/sys",
        "cgroup": "/sys/fs/cgroup",
        "dev": "/dev",
        "dev-shm": "/dev/shm",
        "cache-1": "/var/lib/docker",
        "cache-2": "/root/.cache",
    }
    assert mounts["cgroup"]["mountPropagation"] == "Bidirectional"
    volumes = _volumes(template["spec"])
    assert volumes["cgroup"]["hostPath"]["path"] == "/sys/fs/cgroup"
    assert volumes["dev-shm"] == {"name": "dev-shm", "emptyDir": {"medium": "Memory"}}
    assert volumes["cache-1"]["hostPath"] == {
        "path": "/nestkube/runner-cache/docker/2/1",
        "type": "DirectoryOrCreate",
    }
    assert volumes["cache-2"]["hostPath"]["path"] == "/nestkube/runner-cache/docker/2/2"
    # The first instance's template points at its own directories.
    first_template = render.hook_template(r, first)
    assert first_template is not None
    first_volumes = _volumes(first_template["spec"])
    assert first_volumes["cache-1"]["hostPath"]["path"] == "/nestkube/runner-cache/docker/1/1"


def test_privileged_mode_without_caches_still_has_the_privileged_template() -> None:
    r = runner("name: p\norg: acme\nmode: privileged\n" + PAT)
    template = render.hook_template(r, render.instances(r, ROOT)[0])
    assert template is not None
    assert template["spec"]["containers"][0]["securityContext"]["privileged"] is True
    assert [v["name"] for v in template["spec"]["volumes"]] == ["sys", "cgroup", "dev", "dev-shm"]


def test_kubernetes_mode_caches_go_to_the_job_pod_unprivileged() -> None:
    r = runner("name: k\norg: acme\ncaches: [/home/runner/.cache]\n" + PAT)
    inst = render.instances(r, ROOT)[0]
    template = render.hook_template(r, inst)
    assert template == {
        "spec": {
            "containers": [
                {
                    "name": "$job",
                    "volumeMounts": [{"name": "cache-1", "mountPath": "/home/runner/.cache"}],
                }
            ],
            "volumes": [
                {
                    "name": "cache-1",
                    "hostPath": {
                        "path": "/nestkube/runner-cache/k/1/1",
                        "type": "DirectoryOrCreate",
                    },
                }
            ],
        }
    }
    assert render.values(r, inst)["containerMode"]["type"] == "kubernetes"


def test_dind_mode_uses_the_charts_dind_and_mounts_caches_in_the_runner() -> None:
    r = runner("name: d\norg: acme\nmode: dind\ncaches: [/home/runner/.npm]\ninstances: 2\n" + PAT)
    inst = render.instances(r, ROOT)[1]
    values = render.values(r, inst)
    assert values["containerMode"] == {"type": "dind"}
    spec = values["template"]["spec"]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": "cache-1", "mountPath": "/home/runner/.npm"}
    ]
    assert spec["volumes"] == [
        {
            "name": "cache-1",
            "hostPath": {"path": "/nestkube/runner-cache/d/2/1", "type": "DirectoryOrCreate"},
        }
    ]
    assert render.hook_template(r, inst) is None


def test_secret_manifest_for_both_auth_types() -> None:
    r = runner("name: ci\norg: acme\n" + PAT)
    inst = render.instances(r, ROOT)[0]
    pat = render.secret(inst, {"github_token": "t"})
    assert pat["metadata"]["name"] == "ci-github"
    assert pat["metadata"]["namespace"] == "nestkube-runners"
    assert pat["stringData"] == {"github_token": "t"}
    app = render.secret(
        inst,
        {"github_app_id": "1", "github_app_installation_id": "2", "github_app_private_key": "k"},
    )
    assert set(app["stringData"]) == {
        "github_app_id",
        "github_app_installation_id",
        "github_app_private_key",
    }


def test_hook_configmap_holds_the_template_as_yaml() -> None:
    r = runner("name: p\norg: acme\nmode: privileged\n" + PAT)
    inst = render.instances(r, ROOT)[0]
    template = render.hook_template(r, inst)
    assert template is not None
    cm = render.hook_configmap(inst, template)
    assert cm["metadata"]["name"] == "p-hook-template"
    assert yaml.safe_load(cm["data"]["content"]) == template


def test_node_mounts_and_cache_root(tmp_path: Path) -> None:
    assert render.node_mounts(Path("/c")) == [
        ExtraMount(host_path="/c", container_path="/nestkube/runner-cache")
    ]
    assert render.default_cache_root({"XDG_CACHE_HOME": "/x"}) == Path("/x/nestkube/runners")
    loaded = model.parse(
        "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\ncacheRoot: c\n", tmp_path / "r.yaml"
    )
    assert render.cache_root(loaded) == tmp_path / "c"
