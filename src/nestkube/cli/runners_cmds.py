"""``nestkube runners``: GitHub Actions runner definitions and their ARC scale sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nestkube.cli import groups, options
from nestkube.cli.cluster_cmds import Output, _emit
from nestkube.errors import ConfigError

# The runner models (pydantic) and operations are imported inside the commands that use them.

FILE_HELP = "Runner definitions (RunnerSet). Default: $XDG_CONFIG_HOME/nestkube/runners.yaml."


def _path(file: str | None) -> Path:
    from nestkube.runners import model

    return Path(file) if file else model.default_file()


def _split(labels: str | None) -> list[str]:
    return [x.strip() for x in (labels or "").split(",") if x.strip()]


def _absolute(value: str | None) -> str | None:
    # A path typed on the command line is relative to the shell's directory, not the file's.
    return str(Path(value).expanduser().absolute()) if value else None


def _auth(
    auth: str,
    token_file: str | None,
    token_env: str | None,
    app_id: str | None,
    installation_id: str | None,
    private_key_file: str | None,
) -> dict[str, Any]:
    if auth == "pat":
        if app_id or installation_id or private_key_file:
            raise ConfigError("--app-id, --installation-id and --private-key-file need --auth app")
        pat = {"tokenFile": _absolute(token_file), "tokenEnv": token_env}
        return {"pat": {k: v for k, v in pat.items() if v is not None}}
    if auth == "app":
        if token_file or token_env:
            raise ConfigError("--token-file and --token-env need --auth pat")
        missing = [
            flag
            for flag, value in (
                ("--app-id", app_id),
                ("--installation-id", installation_id),
                ("--private-key-file", private_key_file),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"--auth app needs {', '.join(missing)}")
        return {
            "app": {
                "appId": app_id,
                "installationId": installation_id,
                "privateKeyFile": _absolute(private_key_file),
            }
        }
    raise ConfigError(f'--auth: expected pat or app; got "{auth}"')


@groups.runners_app.command("add")
def add(
    name: str = typer.Argument(..., help="Runner name (lowercase letters, digits, -)."),
    repository: str | None = typer.Option(
        None, "--repository", help="https://github.com/OWNER/REPO"
    ),
    org: str | None = typer.Option(None, "--org", help="An organization instead of a repository."),
    mode: str = typer.Option("kubernetes", "--mode", help="kubernetes, dind or privileged."),
    cache: list[str] = typer.Option(
        [], "--cache", help="A path in the job kept on the host per instance (repeatable)."
    ),
    instances: int = typer.Option(1, "--instances", help="Scale sets, each with its own caches."),
    min_runners: int = typer.Option(0, "--min", help="Idle runners kept per instance."),
    max_runners: int = typer.Option(1, "--max", help="Most runners per instance."),
    auth: str = typer.Option("pat", "--auth", help="pat or app."),
    token_file: str | None = typer.Option(None, "--token-file", help="File holding the PAT."),
    token_env: str | None = typer.Option(
        None, "--token-env", help="Environment variable holding the PAT (read at `up`)."
    ),
    app_id: str | None = typer.Option(None, "--app-id", help="GitHub App id or client id."),
    installation_id: str | None = typer.Option(
        None, "--installation-id", help="GitHub App installation id."
    ),
    private_key_file: str | None = typer.Option(
        None, "--private-key-file", help="GitHub App private key (PEM)."
    ),
    labels: str | None = typer.Option(None, "--labels", help="Extra runs-on labels: a,b"),
    image: str | None = typer.Option(None, "--image", help="Runner image."),
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    token: str | None = typer.Option(None, "--token", hidden=True),
    private_key: str | None = typer.Option(None, "--private-key", hidden=True),
) -> None:
    """Add a runner definition to the file (nothing is applied until `runners up`)."""
    from nestkube.runners import credentials, model

    if token is not None or private_key is not None:
        # Checked first: a secret typed here is already in shell history and `ps`.
        raise ConfigError(
            "secrets are never taken on the command line (they end up in shell history and "
            "ps); use --token-file, --token-env or --private-key-file"
        )
    path = _path(file)
    loaded = model.load(path, missing_ok=True)
    raw: dict[str, Any] = {
        "name": name,
        "repository": repository,
        "org": org,
        "mode": mode,
        "caches": list(cache),
        "instances": instances,
        "min": min_runners,
        "max": max_runners,
        "auth": _auth(auth, token_file, token_env, app_id, installation_id, private_key_file),
        "labels": _split(labels),
        "image": image,
    }
    doc = model.to_dict(loaded.doc)
    doc["runners"] = [*doc.get("runners", []), {k: v for k, v in raw.items() if v is not None}]
    updated = model.from_dict(doc, path)
    added = updated.doc.runners[-1]
    credentials.check_files(updated, added)
    model.save(updated)
    groups.status().info(f"Added runner {name!r} to {path}; apply with: nestkube runners up")


@groups.runners_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Runner to remove."),
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
) -> None:
    """Remove a runner definition from the file (`runners up` then removes its scale sets)."""
    from nestkube.runners import model

    path = _path(file)
    model.save(model.without_runner(model.load(path), name))
    groups.status().info(f"Removed runner {name!r} from {path}; apply with: nestkube runners up")


@groups.runners_app.command("list")
def list_runners(
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
) -> None:
    """List runner definitions and the scale sets (instances) each becomes."""
    from nestkube.runners import model, render

    loaded = model.load(_path(file), missing_ok=True)
    root = render.cache_root(loaded)
    data = []
    lines = []
    for runner in loaded.doc.runners:
        insts = render.instances(runner, root)
        entry = model.to_dict(loaded.doc.model_copy(update={"runners": [runner]}))["runners"][0]
        entry["scaleSets"] = [i.release for i in insts]
        entry["cacheDirs"] = [str(c.host) for i in insts for c in i.caches]
        data.append(entry)
        kind = "app" if runner.auth.app else "pat"
        lines.append(
            f"{runner.name}\t{runner.mode}\t{render.config_url(runner)}\t"
            f"instances={runner.instances} min={runner.min} max={runner.max} auth={kind}"
            + (f" labels={','.join(runner.labels)}" if runner.labels else "")
            + (f" caches={','.join(runner.caches)}" if runner.caches else "")
        )
    if output is Output.text and not lines:
        groups.status().info(f"No runners defined in {_path(file)}.")
    _emit(data, output, "\n".join(lines))


@groups.runners_app.command("up")
def up(
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    context: str | None = typer.Option(
        None, "--context", help="Kubeconfig context. Default: the file's, else nestkube-nestkube."
    ),
    kubeconfig: options.Kubeconfig = None,
    chart_dir: str | None = typer.Option(
        None,
        "--chart-dir",
        help="Directory holding ARC's gha-runner-scale-set(-controller) charts, instead of "
        "the published OCI charts.",
    ),
    controller_image: str | None = typer.Option(
        None,
        "--controller-image",
        help="A local image of ARC's controller to load into the nestkube cluster's nodes and "
        "run instead of the published one.",
    ),
) -> None:
    """Install or upgrade ARC's controller and a scale set per runner instance."""
    from nestkube.runners import model, ops

    loaded = model.load(_path(file))
    releases = ops.up(
        loaded,
        context=context,
        kubeconfig=kubeconfig,
        chart_dir=chart_dir,
        controller_image=controller_image,
        status=groups.status(),
    )
    if releases:
        typer.echo("\n".join(releases))


@groups.runners_app.command("down")
def down(
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    kubeconfig: options.Kubeconfig = None,
) -> None:
    """Uninstall every runner scale set and ARC's controller (host caches are kept)."""
    from nestkube.runners import model, ops

    loaded = model.load(_path(file), missing_ok=True)
    removed = ops.down(loaded, context=context, kubeconfig=kubeconfig, status=groups.status())
    if not removed:
        groups.status().info("No runners installed; nothing to remove")


@groups.runners_app.command("status")
def status(
    file: str | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    kubeconfig: options.Kubeconfig = None,
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
) -> None:
    """Controller, listeners, scale sets, runners and the last error ARC reported (verbatim)."""
    from nestkube.runners import model, ops

    loaded = model.load(_path(file), missing_ok=True)
    report = ops.status_report(loaded, context=context, kubeconfig=kubeconfig)
    _emit(report, output, _text(report))


def _text(report: dict[str, Any]) -> str:
    lines = [f"context: {report['context']}", f"controller: {report['controller']}"]
    for listener in report["listeners"]:
        lines.append(f"listener: {listener['name']} {listener['phase']}")
    for s in report["scaleSets"]:
        lines.append(
            f"scale set: {s['name']} min={s['minRunners']} max={s['maxRunners']} "
            f"current={s['currentRunners']} pending={s['pending']} running={s['running']} "
            f"failed={s['failed']}"
        )
    for r in report["runners"]:
        lines.append(f"runner: {r['name']} {r['phase']} {r['reason']}".rstrip())
    if report["lastError"]:
        lines.append(f"last error: {report['lastError']}")
    return "\n".join(lines)
