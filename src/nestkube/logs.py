"""Export what is needed to debug a cluster: node journals, container and image lists,
the node containers' inspect output, the engine's info and nestkube's version.

Layout (one directory per node)::

    DIR/nestkube-version.txt
    DIR/<engine>-info.txt
    DIR/<node>/inspect.json
    DIR/<node>/journal.log          journalctl --no-pager (the whole journal)
    DIR/<node>/kubelet.log          journalctl --no-pager -u kubelet
    DIR/<node>/containerd.log       journalctl --no-pager -u containerd
    DIR/<node>/crictl-ps.txt        crictl ps -a
    DIR/<node>/crictl-images.txt    crictl images
    DIR/<node>/ctr-images.txt       ctr -n k8s.io images ls
    DIR/<node>/ctr-containers.txt   ctr -n k8s.io containers ls
    DIR/<node>/pods/...             /var/log/pods (each pod container's own log)

A command that fails writes its error into its file: a broken node is exactly when logs are
wanted, so nothing in it may abort the export.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nestkube._version import __version__
from nestkube.errors import NestkubeError
from nestkube.load import find_cluster, node_runtime
from nestkube.names import cluster_name
from nestkube.providers.base import Provider
from nestkube.status import SILENT, Status

# (file name, command run in the node)
NODE_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("journal.log", ("journalctl", "--no-pager")),
    ("kubelet.log", ("journalctl", "--no-pager", "-u", "kubelet")),
    ("containerd.log", ("journalctl", "--no-pager", "-u", "containerd")),
    ("crictl-ps.txt", ("crictl", "ps", "-a")),
    ("crictl-images.txt", ("crictl", "images")),
    ("ctr-images.txt", ("ctr", "-n", "k8s.io", "images", "ls")),
    ("ctr-containers.txt", ("ctr", "-n", "k8s.io", "containers", "ls")),
)
# CRI-O nodes (see nestkube.images.crio_variant): crictl talks to CRI-O there; no containerd.
CRIO_NODE_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *(c for c in NODE_COMMANDS if c[0] in ("journal.log", "kubelet.log")),
    ("crio.log", ("journalctl", "--no-pager", "-u", "crio")),
    *(c for c in NODE_COMMANDS if c[1][0] == "crictl"),
)
# Node journals of a long-lived cluster are large; a stuck command must not hang the export.
COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the directory, or the .tar.gz with --tar
    nodes: tuple[str, ...]
    failures: tuple[str, ...]  # "<node>/<file>: <error>" for each command that failed


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="replace")


def _node_command(provider: Provider, node: str, args: Sequence[str]) -> tuple[str, str | None]:
    """The command's output, or a note of its failure and that error for the summary."""
    try:
        res = provider.exec(node, list(args), check=False, timeout=COMMAND_TIMEOUT)
    except NestkubeError as exc:  # the engine itself failed (node gone, timeout)
        return f"# {' '.join(args)}\n# failed: {exc}\n", str(exc)
    if res.ok:
        return res.stdout, None
    error = (res.stderr.strip() or res.stdout.strip()).splitlines()
    last = error[-1] if error else ""
    text = f"# {' '.join(args)}\n# failed with exit code {res.returncode}\n"
    if res.stdout:
        text += res.stdout if res.stdout.endswith("\n") else res.stdout + "\n"
    if res.stderr:
        text += res.stderr if res.stderr.endswith("\n") else res.stderr + "\n"
    return text, f"exit {res.returncode}: {last}"


def _pod_logs(provider: Provider, node: str, dest: Path) -> str | None:
    """Copy /var/log/pods out of ``node``; the kubelet keeps each container's log there."""
    script = "cd /var/log && [ -d pods ] && tar -cf - pods | base64 || true"
    try:
        res = provider.exec(node, ["sh", "-c", script], check=False, timeout=COMMAND_TIMEOUT)
    except NestkubeError as exc:
        return str(exc)
    # base64 keeps the tar intact through exec, whose output is captured as text.
    data = res.stdout.strip()
    if not data:
        return None
    try:
        blob = base64.b64decode(data)
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            tar.extractall(dest, filter="data")
    except (ValueError, tarfile.TarError, OSError) as exc:
        _write(dest / "pods-error.txt", f"could not unpack /var/log/pods: {exc}\n")
        return str(exc)
    return None


def _export_node(
    provider: Provider, node: str, dest: Path, runtime: str = "containerd"
) -> list[str]:
    failures = []
    try:
        inspect = provider.inspect_node(node)
    except NestkubeError as exc:
        inspect = f"# inspect failed: {exc}\n"
        failures.append(f"{node}/inspect.json: {exc}")
    _write(dest / "inspect.json", inspect)
    for name, args in CRIO_NODE_COMMANDS if runtime == "cri-o" else NODE_COMMANDS:
        text, error = _node_command(provider, node, args)
        _write(dest / name, text)
        if error:
            failures.append(f"{node}/{name}: {error}")
    error = _pod_logs(provider, node, dest)
    if error:
        failures.append(f"{node}/pods: {error}")
    return failures


def _prepare_target(dest: str | Path, *, tar: bool, force: bool) -> tuple[Path, Path]:
    """The directory named by ``dest`` and the final path (the directory or its .tar.gz).

    Checked and made before the engine is asked anything: a path that cannot be written is
    a one-line error, and existing logs are never overwritten without ``force``.
    """
    target = Path(dest)
    final = target.with_name(target.name + ".tar.gz") if tar else target
    if final.exists() and not final.is_dir() and not tar:
        raise NestkubeError(f"{final} exists and is not a directory")
    if tar and final.is_dir():
        raise NestkubeError(f"{final} exists and is a directory")
    if not force and final.exists() and (tar or any(final.iterdir())):
        what = "archive" if tar else "directory is not empty"
        raise NestkubeError(f"{final} exists ({what}); pass --force to overwrite it")
    # Nothing is created yet (a cluster that is not found must leave no directory): the
    # nearest existing ancestor must be a directory this user can write into.
    wanted = target if not tar else final.parent
    existing = next((p for p in (wanted, *wanted.parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        raise NestkubeError(f"cannot write logs to {wanted}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise NestkubeError(f"cannot write logs to {wanted}: {existing} is not writable")
    return target, final


def export_logs(
    cluster: str = "nestkube",
    dest: str | Path | None = None,
    *,
    tar: bool = False,
    force: bool = False,
    provider: str | None = None,
    engines: Sequence[Provider] | None = None,
    status: Status = SILENT,
) -> ExportResult:
    """Write the logs of ``cluster`` into ``dest`` (a new temp dir when None).

    With ``tar`` the result is ``<dest>.tar.gz`` and ``dest`` itself is not left behind. An
    existing non-empty directory or archive is an error unless ``force``.
    """
    cluster_name(cluster)
    prepared = _prepare_target(dest, tar=tar, force=force) if dest is not None else None
    engine, nodes = find_cluster(cluster, provider=provider, engines=engines)
    if prepared is None:
        target = Path(tempfile.mkdtemp(prefix=f"nestkube-logs-{cluster}-"))
    else:
        target = prepared[0]
    work = Path(tempfile.mkdtemp(prefix="nestkube-logs-")) / target.name if tar else target
    try:
        work.mkdir(parents=True, exist_ok=True)
        if tar:
            target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NestkubeError(f"cannot create {exc.filename}: {exc.strerror}") from None

    _write(work / "nestkube-version.txt", f"nestkube {__version__}\n")
    try:
        info = engine.engine_info()
    except NestkubeError as exc:
        info = f"# {engine.info.name} info failed: {exc}\n"
    _write(work / f"{engine.info.name}-info.txt", info)

    failures: list[str] = []
    with (
        status.step(f"Exporting logs of {len(nodes)} node(s) of {cluster!r}"),
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        results = pool.map(
            lambda n: _export_node(engine, n.name, work / n.name, node_runtime(n)), nodes
        )
        for node_failures in results:
            failures.extend(node_failures)
    for failure in failures:
        status.detail(f"failed: {failure}")

    result_path = work
    if tar:
        archive = target.with_name(target.name + ".tar.gz")
        if dest is None:
            shutil.rmtree(target, ignore_errors=True)
        try:
            with tarfile.open(archive, "w:gz") as out:
                out.add(work, arcname=target.name)
        except OSError as exc:
            raise NestkubeError(f"cannot write {archive}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(work.parent, ignore_errors=True)
        result_path = archive
    return ExportResult(result_path, tuple(n.name for n in nodes), tuple(failures))


__all__ = ["NODE_COMMANDS", "ExportResult", "export_logs"]
