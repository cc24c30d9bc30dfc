"""What a containerd node holds, read as data from `crictl images -o json` (issue #27), with
`ctr images ls`'s text only as the fallback for a node without a working crictl."""

from __future__ import annotations

import json

from test_load import ID_A, ID_B, MANIFEST_A, FakeProvider, quiet_status, two_node_cluster

from nestkube._exec import Result
from nestkube.load import NodeImages, load_images, parse_cri_images


class CriProvider(FakeProvider):
    """The fake engine of test_load, whose nodes answer crictl with JSON (and no ctr)."""

    def __init__(self, images: dict[str, str], cri: dict[str, list[dict[str, object]]]) -> None:
        super().__init__("docker", images, "dev", two_node_cluster())
        self.cri = cri

    def answer(self, node: str, argv: list[str]) -> Result:
        self.execs.append((node, argv))
        if argv == ["crictl", "images", "-o", "json"]:
            return Result(argv, 0, json.dumps({"images": self.cri.get(node, [])}), "")
        return Result(argv, 1, "", f"unexpected: {argv}")


def image(image_id: str, *tags: str, digests: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "id": image_id,
        "repoTags": list(tags),
        "repoDigests": list(digests),
        "size": "1024",
        "pinned": False,
    }


def test_parse_cri_images() -> None:
    text = json.dumps(
        {
            "images": [
                image(ID_A, "docker.io/library/app:1", "localhost/x:2"),
                image(
                    "b" * 64,
                    digests=(f"docker.io/library/app@{MANIFEST_A}",),
                ),
                {"id": "", "repoTags": ["ignored:1"]},
            ]
        }
    )
    assert parse_cri_images(text) == {
        "docker.io/library/app:1": ID_A,
        "localhost/x:2": ID_A,
        f"docker.io/library/app@{MANIFEST_A}": ID_B,
    }
    assert parse_cri_images("") == {}
    assert parse_cri_images("REF TYPE DIGEST") is None
    assert parse_cri_images("[1, 2]") is None


def test_node_images_come_from_crictl_without_ctr() -> None:
    engine = CriProvider({}, {"dev-control-plane": [image(ID_A, "docker.io/library/app:1")]})
    held = NodeImages(engine, "dev-control-plane")
    assert held.image_id("app:1") == ID_A
    assert held.image_id("docker.io/library/app:1") == ID_A
    assert held.image_id("other:1") is None
    assert held.has(["docker.io/library/app:1"], "a" * 64)
    assert [argv[0] for _, argv in engine.execs] == ["crictl"]


def test_load_skips_a_node_whose_cri_holds_the_image() -> None:
    engine = CriProvider(
        {"app:1": ID_A}, {"dev-control-plane": [image(ID_A, "docker.io/library/app:1")]}
    )
    status, err = quiet_status()
    out = load_images(["app:1"], cluster="dev", engines=[engine], status=status)
    assert [(o.node, o.loaded) for o in out] == [("dev-control-plane", False), ("dev-worker", True)]
    assert "image app:1 already present on node dev-control-plane, skipped" in err.getvalue()
    assert not [argv for _, argv in engine.execs if argv[0] == "ctr"]


def test_a_node_without_crictl_falls_back_to_ctr() -> None:
    present = [("docker.io/library/app:1", MANIFEST_A), (ID_A, MANIFEST_A)]
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster(cp=present))
    held = NodeImages(engine, "dev-control-plane")
    assert held.image_id("docker.io/library/app:1") == ID_A
    asked = [argv[:2] for _, argv in engine.execs]
    assert asked[0] == ["crictl", "images"] and ["ctr", "-n"] in asked
