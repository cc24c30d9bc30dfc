"""Dockerfile-style changes (``LABEL``, ``ENV``, ``STOPSIGNAL``...) applied to a saved image.

For engines whose ``commit --change`` takes fewer instructions than the builders use:
nerdctl's takes only CMD and ENTRYPOINT. The image is saved, its config rewritten, and the
archive loaded again as a docker-archive holding the same layers.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nestkube.errors import ImageBuildError


def _value(text: str) -> str:
    """A change's value: JSON-quoted ('"a b"') or bare."""
    text = text.strip()
    if text.startswith('"'):
        value = json.loads(text)
        return str(value)
    return text


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """``config`` (an image config JSON) with ``changes`` applied to its "config" part."""
    out: dict[str, Any] = json.loads(json.dumps(config))
    cfg: dict[str, Any] = out.setdefault("config", {})
    for change in changes:
        word, _, rest = change.strip().partition(" ")
        op = word.upper()
        if op == "LABEL":
            key, _, value = rest.partition("=")
            cfg.setdefault("Labels", {})[key.strip()] = _value(value)
        elif op == "ENV":
            key, _, value = rest.partition("=")
            env = [e for e in cfg.get("Env") or [] if e.split("=", 1)[0] != key.strip()]
            cfg["Env"] = [*env, f"{key.strip()}={_value(value)}"]
        elif op == "STOPSIGNAL":
            cfg["StopSignal"] = rest.strip()
        elif op in ("CMD", "ENTRYPOINT"):
            cfg["Cmd" if op == "CMD" else "Entrypoint"] = json.loads(rest)
        elif op == "WORKDIR":
            cfg["WorkingDir"] = rest.strip()
        elif op == "USER":
            cfg["User"] = rest.strip()
        else:
            raise ImageBuildError(f"image change {change!r} is not supported here")
    return out


def rewrite_archive(src: Path, dest: Path, image: str, changes: Sequence[str]) -> None:
    """A docker-archive of ``image`` at ``dest``: the first image in ``src`` (docker-archive,
    or OCI with a docker manifest.json) with ``changes`` applied to its config."""
    with tarfile.open(src) as tar, tarfile.open(dest, "w") as out:
        manifest = _json(tar, "manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise ImageBuildError(f"{src.name} has no docker manifest.json to rewrite")
        entry = manifest[0]
        config = apply_changes(_json(tar, entry["Config"]), changes)
        blob = json.dumps(config, separators=(",", ":")).encode()
        config_name = f"{hashlib.sha256(blob).hexdigest()}.json"
        _add(out, config_name, blob)
        for layer in entry["Layers"]:
            member = tar.getmember(layer)
            data = tar.extractfile(member)
            if data is None:
                raise ImageBuildError(f"{src.name}: layer {layer} is not a file")
            info = tarfile.TarInfo(layer)
            info.size = member.size
            out.addfile(info, data)
        new_manifest = [{"Config": config_name, "RepoTags": [image], "Layers": entry["Layers"]}]
        _add(out, "manifest.json", json.dumps(new_manifest).encode())


def _json(tar: tarfile.TarFile, name: str) -> Any:
    data = tar.extractfile(name)
    if data is None:
        raise ImageBuildError(f"image archive member {name} is not a file")
    return json.loads(data.read())


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
