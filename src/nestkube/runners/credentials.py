"""Reading the GitHub credentials a runner definition points at, into ARC's secret keys.

ARC reads a PAT from ``github_token`` and a GitHub App from ``github_app_id``,
``github_app_installation_id`` and ``github_app_private_key``. Values only ever travel from
here to ``kubectl apply -f -`` on stdin; they are never put on a command line or in a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nestkube.config._paths import format_error
from nestkube.errors import ConfigError
from nestkube.runners.model import RunnerDoc, RunnerFile

TOKEN_KEY = "github_token"
APP_ID_KEY = "github_app_id"
INSTALLATION_ID_KEY = "github_app_installation_id"
PRIVATE_KEY_KEY = "github_app_private_key"


def check_files(loaded: RunnerFile, runner: RunnerDoc) -> None:
    """The token or key file exists and is readable (what ``add`` can check without reading)."""
    index = loaded.doc.runners.index(runner) if runner in loaded.doc.runners else None
    for key, value in _files(runner):
        path = loaded.resolve(value)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(_where(loaded, index, key, f"cannot read {path}"))


def read(
    loaded: RunnerFile, runner: RunnerDoc, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """ARC's secret data for ``runner``; a ConfigError names the key when a value is missing."""
    environ = os.environ if env is None else env
    index = loaded.doc.runners.index(runner)
    auth = runner.auth
    if auth.pat is not None:
        if auth.pat.token_env is not None:
            token = environ.get(auth.pat.token_env, "").strip()
            if not token:
                raise ConfigError(
                    _where(loaded, index, "auth.pat.tokenEnv", f"${auth.pat.token_env} is not set")
                )
            return {TOKEN_KEY: token}
        assert auth.pat.token_file is not None  # validate() allows exactly one of the two
        token = _read_file(loaded, index, "auth.pat.tokenFile", auth.pat.token_file).strip()
        return {TOKEN_KEY: token}
    assert auth.app is not None
    key = _read_file(loaded, index, "auth.app.privateKeyFile", auth.app.private_key_file)
    if "PRIVATE KEY-----" not in key:
        raise ConfigError(_where(loaded, index, "auth.app.privateKeyFile", "not a PEM private key"))
    return {
        APP_ID_KEY: auth.app.app_id,
        INSTALLATION_ID_KEY: auth.app.installation_id,
        PRIVATE_KEY_KEY: key,
    }


def _files(runner: RunnerDoc) -> list[tuple[str, str]]:
    auth = runner.auth
    if auth.pat is not None and auth.pat.token_file is not None:
        return [("auth.pat.tokenFile", auth.pat.token_file)]
    if auth.app is not None:
        return [("auth.app.privateKeyFile", auth.app.private_key_file)]
    return []


def _read_file(loaded: RunnerFile, index: int, key: str, value: str) -> str:
    path = loaded.resolve(value)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(_where(loaded, index, key, f"cannot read {path}: {reason}")) from None
    if not text.strip():
        raise ConfigError(_where(loaded, index, key, f"{path} is empty"))
    return text


def _where(loaded: RunnerFile, index: int | None, key: str, message: str) -> str:
    prefix = f"runners[{index}]." if index is not None else ""
    return format_error(str(loaded.path), prefix + key, message)
