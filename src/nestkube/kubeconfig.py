"""Kubeconfig files, handled the way kubectl users expect.

A cluster appears in a kubeconfig as one cluster, one user and one context, all named
``nestkube-<cluster>``. Which file is read and which is written follow kubectl's rules
(``--kubeconfig``, then ``$KUBECONFIG``, then ``~/.kube/config``), and every
read-modify-write holds kubectl's ``<file>.lock`` so nestkube, kubectl and other tools
editing the same file at the same time do not lose each other's entries.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from nestkube.errors import NestkubeError
from nestkube.yaml_errors import yaml_problem

# Long enough for another kubectl or nestkube to finish one write, short enough that a lock
# left by a killed process is reported instead of hanging a create.
LOCK_TIMEOUT = 10.0

_PREFIX = "nestkube-"
# (top-level list, key of the body inside each named entry), in kubectl's order.
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))

Document = dict[str, Any]


class KubeconfigError(NestkubeError):
    """A kubeconfig cannot be read, parsed, locked or written."""


def context_name(cluster: str) -> str:
    """The name of the cluster, user and context a nestkube cluster gets in a kubeconfig."""
    return f"{_PREFIX}{cluster}"


def kubeconfig_paths(
    explicit: str | None = None, *, env: Mapping[str, str] | None = None
) -> list[Path]:
    """The kubeconfig files kubectl would read, in order."""
    if explicit:
        return [Path(explicit)]
    environ = os.environ if env is None else env
    paths: list[Path] = []
    for entry in environ.get("KUBECONFIG", "").split(os.pathsep):
        if entry and Path(entry) not in paths:
            paths.append(Path(entry))
    return paths or [_home(environ) / ".kube" / "config"]


def write_target(explicit: str | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """The file a new entry goes into: the one kubectl would write.

    With several ``$KUBECONFIG`` files that is the first one that exists, and when none
    exists, the last one (kubectl's ``GetDefaultFilename`` and kind agree on this).
    """
    paths = kubeconfig_paths(explicit, env=env)
    if len(paths) == 1:
        return paths[0]
    for path in paths:
        if path.is_file():
            return path
    return paths[-1]


def build_kubeconfig(admin_kubeconfig: str, cluster: str, server: str) -> str:
    """A stand-alone kubeconfig for ``cluster`` made from the admin.conf kubeadm wrote.

    The entries are renamed ``nestkube-<cluster>`` and point at ``server``; credentials and
    every other field of the admin entries are kept.
    """
    entries = _cluster_entries(admin_kubeconfig, cluster, server)
    name = context_name(cluster)
    doc: Document = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    for section, _ in _SECTIONS:
        doc[section] = [entries[section]]
    doc["current-context"] = name
    return _dump(doc)


def merge_cluster(
    admin_kubeconfig: str,
    cluster: str,
    server: str,
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Path:
    """Add or replace the cluster's entries in the write target and make it current."""
    # Built before locking so a bad admin.conf fails without touching the user's file.
    entries = _cluster_entries(admin_kubeconfig, cluster, server)
    target = write_target(explicit, env=env)
    _make_private_dirs(target.parent)
    with _locked(target, lock_timeout):
        doc = _load(target)
        if doc is None:
            doc = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
        doc.setdefault("apiVersion", "v1")
        doc.setdefault("kind", "Config")
        for section, _ in _SECTIONS:
            _upsert(_entries(doc, section, target), entries[section])
        doc["current-context"] = context_name(cluster)
        _write(target, doc)
    return target


def check_target(explicit: str | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """Read and validate the file a create will write, before anything is created.

    A malformed or unreadable kubeconfig, or one in a place that cannot be written, fails
    here in a second instead of after the cluster is built.
    """
    target = write_target(explicit, env=env)
    if target.is_dir():
        raise KubeconfigError(f"kubeconfig {target} is a directory, not a file")
    _load(target)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise KubeconfigError(f"kubeconfig {target} is not writable")
    else:
        parent = next((p for p in target.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise KubeconfigError(
                f"kubeconfig {target} cannot be created: {parent} is not writable"
            )
    return target


def remove_cluster(
    cluster: str,
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> list[Path]:
    """Remove the cluster's entries from every kubeconfig file; return the files changed.

    Every file is visited because the cluster may have been exported into any of them. A
    file that cannot be cleaned does not stop the others; the first failure is raised after.
    """
    name = context_name(cluster)
    changed: list[Path] = []
    errors: list[KubeconfigError] = []
    for path in kubeconfig_paths(explicit, env=env):
        # Checked before locking so a missing file never gets a directory or lock created.
        if not path.is_file():
            continue
        try:
            with _locked(path, lock_timeout):
                doc = _load(path)
                if doc is not None and _remove_entries(doc, name, path):
                    _write(path, doc)
                    changed.append(path)
        except KubeconfigError as exc:
            errors.append(exc)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise KubeconfigError(f"{errors[0]}{more}")
    return changed


def has_entries(
    cluster: str, explicit: str | None = None, *, env: Mapping[str, str] | None = None
) -> bool:
    """Whether any kubeconfig file holds a cluster, user or context of this cluster."""
    name = context_name(cluster)
    for path in kubeconfig_paths(explicit, env=env):
        doc = _load(path) if path.is_file() else None
        if doc is None:
            continue
        for section, _ in _SECTIONS:
            if any(entry.get("name") == name for entry in _entries(doc, section, path)):
                return True
    return False


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _cluster_entries(admin_kubeconfig: str, cluster: str, server: str) -> dict[str, Document]:
    """The renamed cluster, user and context entries, keyed by section."""
    source = "admin kubeconfig"
    admin = _parse(admin_kubeconfig, source)
    if admin is None:
        raise KubeconfigError(f"{source} is empty")
    contexts = _entries(admin, "contexts", source)
    current = admin.get("current-context")
    chosen = [c for c in contexts if c.get("name") == current] if current else []
    if not chosen and len(contexts) == 1:
        chosen = contexts
    if not chosen:
        raise KubeconfigError(f"{source} has no current context to export")
    context = _body(chosen[0], "context", source)

    found: dict[str, Document] = {}
    for section, key in _SECTIONS[:2]:
        wanted = context.get(key)
        matches = [e for e in _entries(admin, section, source) if e.get("name") == wanted]
        if not wanted or not matches:
            raise KubeconfigError(f"{source} has no {key} entry {wanted!r} for its context")
        found[key] = copy.deepcopy(_body(matches[0], key, source))

    name = context_name(cluster)
    found["cluster"]["server"] = server
    new_context = {**copy.deepcopy(context), "cluster": name, "user": name}
    return {
        "clusters": {"name": name, "cluster": found["cluster"]},
        "users": {"name": name, "user": found["user"]},
        "contexts": {"name": name, "context": new_context},
    }


def _body(entry: Document, key: str, source: object) -> Document:
    body = entry.get(key)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise KubeconfigError(f"{source}: entry {entry.get('name')!r} has a malformed {key!r}")
    return body


def _entries(doc: Document, section: str, source: object) -> list[Document]:
    """The named list ``section`` of ``doc``, created when absent or null."""
    value = doc.get(section)
    if value is None:
        value = doc[section] = []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise KubeconfigError(f"{source}: {section!r} is not a list of named entries")
    return value


def _upsert(entries: list[Document], entry: Document) -> None:
    # Replaced in place so a re-export does not reorder the user's file.
    for i, existing in enumerate(entries):
        if existing.get("name") == entry["name"]:
            entries[i] = entry
            return
    entries.append(entry)


def _remove_entries(doc: Document, name: str, source: Path) -> bool:
    changed = False
    for section, _ in _SECTIONS:
        entries = _entries(doc, section, source)
        kept = [e for e in entries if e.get("name") != name]
        if len(kept) != len(entries):
            entries[:] = kept
            changed = True
    if doc.get("current-context") == name:
        # kubectl writes an unset current context as an empty string, so do the same.
        doc["current-context"] = ""
        changed = True
    return changed


def _parse(text: str, source: object) -> Document | None:
    """The mapping in ``text``; None when it holds nothing."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{source}: invalid YAML: {yaml_problem(exc)}") from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{source} is not a kubeconfig: expected a mapping at the top")
    return doc


def _load(path: Path) -> Document | None:
    """The document in ``path``; None when the file is missing or empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from None
    doc = _parse(text, f"kubeconfig {path}")
    if doc is not None:
        # Validated now so a bad section is reported before anything is written.
        for section, _ in _SECTIONS:
            _entries(doc, section, f"kubeconfig {path}")
    return doc


class _Dumper(yaml.SafeDumper):
    # Anchors and aliases are legal YAML but no kubeconfig written by kubectl has them.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(doc: Document) -> str:
    return yaml.dump(doc, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=1 << 30)


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents as 0700: they will hold credentials."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise KubeconfigError(f"cannot create directory {path}: {exc.strerror}") from None


def _write(path: Path, doc: Document) -> None:
    """Replace ``path`` atomically with ``doc``, as a 0600 file."""
    # Written through a symlink, so a kubeconfig kept elsewhere (dotfiles) stays linked.
    target = Path(os.path.realpath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise KubeconfigError(f"cannot write kubeconfig {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            _keep_owner(out.fileno(), target)
            out.write(_dump(doc))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise KubeconfigError(f"cannot write kubeconfig {path}: {exc.strerror}") from None
        raise


def _keep_owner(fd: int, target: Path) -> None:
    # Under sudo, replacing a user's kubeconfig would otherwise leave it owned by root.
    if os.geteuid() != 0:
        return
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    os.fchown(fd, st.st_uid, st.st_gid)


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """Hold kubectl's ``<file>.lock`` (created O_EXCL) around a read-modify-write."""
    lock = Path(f"{path}.lock")
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KubeconfigError(
                    f"kubeconfig {path} is locked: {lock} still exists after {timeout:g}s;"
                    f" remove it if no kubectl or nestkube is running"
                ) from None
            # Jitter keeps many waiters from retrying in lock-step.
            time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
            delay = min(delay * 2, 0.2)
        except OSError as exc:
            raise KubeconfigError(f"cannot create lock file {lock}: {exc.strerror}") from None
    try:
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
