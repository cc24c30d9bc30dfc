"""The runner definitions file: ``nestkube.io/v1alpha1`` ``RunnerSet``, strict like cluster configs.

Decoding is pydantic's (an unknown key is an error naming its path, worded by the cluster
config's own error helpers); the rules that involve more than one key live in
:func:`validate`, so a definition built by ``runners add`` is checked by the same code as a
file. Nothing here reads a token: the file names where credentials are, never holds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import yaml
from pydantic import Field, ValidationError

from nestkube.config._paths import format_error, render_path, yaml_problem
from nestkube.config.document import NESTKUBE_API_VERSION, _Doc
from nestkube.config.load import _explain, _position, _StrictLoader
from nestkube.defaults import RUNNERS_FILE as RUNNERS_FILE
from nestkube.errors import ConfigError

RUNNER_SET_KIND = "RunnerSet"
Mode = Literal["kubernetes", "dind", "privileged"]
MODES: tuple[Mode, ...] = ("kubernetes", "dind", "privileged")
# ARC's scale-set chart refuses release names longer than 45 characters; instance suffixes
# ("-12") come out of the same budget.
NAME_MAX = 45
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_OWNER_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")
_REPO_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_APP_ID_RE = re.compile(r"^[A-Za-z0-9.]+$")
_LABEL_RE = re.compile(r"^[^\s,]+$")
LABELS_UNSUPPORTED = (
    "the pinned ARC v0.27.6 (charts 0.6.1, the newest the Go module proxy serves) has no "
    "scale-set labels; a job picks these runners by scale-set name (runs-on: NAME, or NAME-N "
    "per instance)"
)
# Paths a cache may not cover: the job needs its own view of these.
_RESERVED = ("/", "/sys", "/dev", "/proc")


class PatAuthDoc(_Doc):
    """A personal access token, read from a file or an environment variable at ``up``."""

    token_file: str | None = Field(
        None, alias="tokenFile", description="File holding the token; relative to this file."
    )
    token_env: str | None = Field(
        None, alias="tokenEnv", description="Environment variable holding the token."
    )


class AppAuthDoc(_Doc):
    """A GitHub App installation."""

    app_id: str = Field(alias="appId", description="App id or client id (a string).")
    installation_id: str = Field(alias="installationId", description="Installation id.")
    private_key_file: str = Field(
        alias="privateKeyFile", description="PEM private key file; relative to this file."
    )


class AuthDoc(_Doc):
    """Exactly one of ``pat`` and ``app``."""

    pat: PatAuthDoc | None = None
    app: AppAuthDoc | None = None


class RunnerDoc(_Doc):
    """One runner definition: a scale set per instance."""

    name: str = Field(description='Lowercase letters, digits and "-".')
    repository: str | None = Field(None, description="https://github.com/OWNER/REPO")
    org: str | None = Field(None, description="An organization, instead of a repository.")
    mode: Mode = Field("kubernetes", description="kubernetes, dind or privileged.")
    caches: list[str] = Field(
        default_factory=list, description="Paths in the job kept on the host, per instance."
    )
    instances: int = Field(1, description="Scale sets, each with its own cache directories.")
    min: int = Field(0, description="Idle runners kept per instance.")
    max: int = Field(1, description="Most runners per instance.")
    auth: AuthDoc
    labels: list[str] = Field(default_factory=list, description="Extra runs-on labels.")
    image: str | None = Field(None, description="Runner image; default ARC's runner image.")


class RunnerSetDoc(_Doc):
    """A nestkube.io/v1alpha1 RunnerSet document."""

    api_version: Literal["nestkube.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["RunnerSet"]
    context: str | None = Field(None, description="Kubeconfig context; default nestkube-nestkube.")
    cache_root: str | None = Field(
        None, alias="cacheRoot", description="Host directory for caches; relative to this file."
    )
    runners: list[RunnerDoc] = Field(default_factory=list)


@dataclass(frozen=True)
class RunnerFile:
    """A validated RunnerSet and the file it belongs to (relative paths are taken from there)."""

    doc: RunnerSetDoc
    path: Path

    @property
    def base(self) -> Path:
        return self.path.expanduser().absolute().parent

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return Path(os.path.normpath(path if path.is_absolute() else self.base / path))

    def runner(self, name: str) -> RunnerDoc | None:
        return next((r for r in self.doc.runners if r.name == name), None)


def default_file(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/nestkube/runners.yaml`` (``~/.config`` when unset)."""
    environ = os.environ if env is None else env
    home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(home).expanduser() / RUNNERS_FILE


def empty(path: Path) -> RunnerFile:
    doc = RunnerSetDoc.model_validate({"apiVersion": NESTKUBE_API_VERSION, "kind": RUNNER_SET_KIND})
    return RunnerFile(doc, path)


def load(path: Path, *, missing_ok: bool = False) -> RunnerFile:
    """Read and validate a RunnerSet file; a missing file is an empty set when ``missing_ok``."""
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return empty(path)
        raise ConfigError(f"{path}: runners file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read runners file: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> RunnerFile:
    where = str(path)
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML: {yaml_problem(exc)}") from None
    return from_dict(raw, path)


def from_dict(raw: Any, path: Path) -> RunnerFile:
    where = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a RunnerSet document (a mapping)")
    if raw.get("apiVersion") != NESTKUBE_API_VERSION:
        raise ConfigError(f"{where}: apiVersion: expected {NESTKUBE_API_VERSION}")
    if raw.get("kind") != RUNNER_SET_KIND:
        raise ConfigError(f"{where}: kind: expected {RUNNER_SET_KIND}")
    try:
        doc = RunnerSetDoc.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(exc.errors(include_url=False), key=lambda e: _position(raw, e["loc"]))
        path_text, message = _explain(errors[0], RunnerSetDoc)
        raise ConfigError(format_error(where, path_text, message)) from None
    loaded = RunnerFile(doc, path)
    validate(loaded)
    return loaded


def to_dict(doc: RunnerSetDoc) -> dict[str, Any]:
    return doc.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)


def save(loaded: RunnerFile) -> None:
    """Write the file atomically (a reader never sees half a file)."""
    target = loaded.path.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(yaml.safe_dump(to_dict(loaded.doc), sort_keys=False), encoding="utf-8")
    tmp.replace(target)


def with_runner(loaded: RunnerFile, runner: RunnerDoc) -> RunnerFile:
    """A copy with ``runner`` appended, validated (a duplicate name is an error)."""
    doc = loaded.doc.model_copy(update={"runners": [*loaded.doc.runners, runner]})
    updated = RunnerFile(doc, loaded.path)
    validate(updated)
    return updated


def without_runner(loaded: RunnerFile, name: str) -> RunnerFile:
    if loaded.runner(name) is None:
        raise ConfigError(f"{loaded.path}: no runner named {name!r}")
    kept = [r for r in loaded.doc.runners if r.name != name]
    return RunnerFile(loaded.doc.model_copy(update={"runners": kept}), loaded.path)


# --- rules across keys ------------------------------------------------------------------
# Raises the ConfigError for (key path below the runner, message).
_Fail = Callable[[tuple[str | int, ...], str], NoReturn]


def validate(loaded: RunnerFile) -> None:
    """Every rule that decoding alone cannot check; the first broken one is a ConfigError."""
    where = str(loaded.path)
    seen: dict[str, int] = {}
    for i, runner in enumerate(loaded.doc.runners):
        at: tuple[str | int, ...] = ("runners", i)

        def fail(
            key: tuple[str | int, ...], message: str, at: tuple[str | int, ...] = at
        ) -> NoReturn:
            raise ConfigError(format_error(where, render_path((*at, *key)), message))

        if runner.name in seen:
            fail(
                ("name",),
                f'duplicate runner name "{runner.name}" (also runners[{seen[runner.name]}])',
            )
        seen[runner.name] = i
        _check_runner(runner, fail)
    for key, value in (("cacheRoot", loaded.doc.cache_root), ("context", loaded.doc.context)):
        if value is not None and not value.strip():
            raise ConfigError(format_error(where, key, "must not be empty"))


def _check_runner(runner: RunnerDoc, fail: _Fail) -> None:
    longest = f"{runner.name}-{runner.instances}" if runner.instances > 1 else runner.name
    if not _NAME_RE.match(runner.name):
        fail(("name",), f'"{runner.name}": use lowercase letters, digits and "-"')
    if len(longest) > NAME_MAX:
        fail(("name",), f'"{longest}" is longer than {NAME_MAX} characters (ARC\'s limit)')
    if (runner.repository is None) == (runner.org is None):
        fail((), "set exactly one of repository and org")
    if runner.repository is not None:
        problem = repository_problem(runner.repository)
        if problem:
            fail(("repository",), problem)
    if runner.org is not None and not _OWNER_RE.match(runner.org):
        fail(("org",), f'"{runner.org}" is not an organization name')
    if runner.instances < 1:
        fail(("instances",), "must be at least 1")
    if runner.min < 0:
        fail(("min",), "must be 0 or more")
    if runner.max < 1:
        fail(("max",), "must be at least 1")
    if runner.min > runner.max:
        fail(("min",), f"min ({runner.min}) is greater than max ({runner.max})")
    for n, cache in enumerate(runner.caches):
        problem = cache_problem(cache)
        if problem:
            fail(("caches", n), problem)
        if cache in runner.caches[:n]:
            fail(("caches", n), f'"{cache}" is listed twice')
    if runner.caches and runner.max > 1:
        # Two jobs on one cache directory would share /var/lib/docker and the like.
        fail(
            ("max",),
            f"with caches each instance runs one job at a time (max 1, got {runner.max}); "
            "use instances for parallel jobs",
        )
    for n, label in enumerate(runner.labels):
        if not _LABEL_RE.match(label):
            fail(("labels", n), f'"{label}": labels have no spaces or commas')
    if runner.labels:
        # Refused rather than ignored: the pinned ARC's charts (nestkube.runners.kit) have no
        # scale-set labels.
        fail(("labels",), LABELS_UNSUPPORTED)
    _check_auth(runner.auth, fail)


def _check_auth(auth: AuthDoc, fail: _Fail) -> None:
    if (auth.pat is None) == (auth.app is None):
        fail(("auth",), "set exactly one of pat and app")
    if auth.pat is not None:
        pat = auth.pat
        if (pat.token_file is None) == (pat.token_env is None):
            fail(("auth", "pat"), "set exactly one of tokenFile and tokenEnv")
        if pat.token_file is not None and not pat.token_file.strip():
            fail(("auth", "pat", "tokenFile"), "must not be empty")
        if pat.token_env is not None and not _ENV_RE.match(pat.token_env):
            fail(("auth", "pat", "tokenEnv"), f'"{pat.token_env}" is not a variable name')
    if auth.app is not None:
        app = auth.app
        if not _APP_ID_RE.match(app.app_id):
            fail(("auth", "app", "appId"), f'"{app.app_id}" is not an app id or client id')
        if not app.installation_id.isdigit():
            fail(("auth", "app", "installationId"), f'"{app.installation_id}" is not a number')
        if not app.private_key_file.strip():
            fail(("auth", "app", "privateKeyFile"), "must not be empty")


def repository_problem(url: str) -> str:
    """Why ``url`` is not a repository URL ARC can register runners for, or ""."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme != "https" or not parts.hostname:
        return f'"{url}": expected https://HOST/OWNER/REPO'
    if parts.query or parts.fragment or len(segments) != 2:
        return f'"{url}": expected https://HOST/OWNER/REPO'
    owner, repo = segments
    if not _OWNER_RE.match(owner) or not _REPO_RE.match(repo) or repo.endswith(".git"):
        return f'"{url}": expected https://HOST/OWNER/REPO (no .git)'
    return ""


def cache_problem(path: str) -> str:
    p = PurePosixPath(path)
    if not p.is_absolute():
        return f'"{path}": a cache is an absolute path in the job container'
    if ".." in p.parts:
        return f'"{path}": no ".." in cache paths'
    for reserved in _RESERVED:
        if str(p) == reserved or (reserved != "/" and p.is_relative_to(reserved)):
            return f'"{path}": {reserved} is the job\'s own, it cannot be a cache'
    return ""
