"""The guest's command agent: runs inside the test VM as a root systemd service.

It reads one JSON request per line from a virtio-serial port and answers each with one JSON
line. Standard library only: it runs on the guest's own Python, outside any venv.

Requests: ``{"id": N, "argv": [...], "user": "nk" | null, "timeout": seconds,
"env": {...}, "stdin": "..." | null, "cwd": "..." | null}`` or ``{"id": N, "ping": true}``.
Answers: ``{"id": N, "rc": int, "out": str, "err": str}`` (rc -9 on a timeout, with the
reason in ``err``), or ``{"id": N, "pong": boot_id}``. Each request runs in its own thread,
so a hung command never blocks a later one (a journal read after a hang, say).
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

PORT_NAME = "io.nestkube.agent"
# Output kept per stream: enough for a node's journal, bounded so one answer stays small.
MAX_OUTPUT = 4 << 20


def find_port(name: str = PORT_NAME) -> Path:
    for entry in Path("/sys/class/virtio-ports").glob("*"):
        try:
            if (entry / "name").read_text().strip() == name:
                return Path("/dev") / entry.name
        except OSError:
            continue
    raise SystemExit(f"no virtio port named {name}")


def user_env(user: str) -> tuple[pwd.struct_passwd, dict[str, str]]:
    entry = pwd.getpwnam(user)
    runtime = f"/run/user/{entry.pw_uid}"
    env = {
        "HOME": entry.pw_dir,
        "USER": user,
        "LOGNAME": user,
        "SHELL": entry.pw_shell,
        "PATH": f"{entry.pw_dir}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
    }
    # A lingering user's manager and bus: rootless Podman's systemd cgroup manager needs both.
    if Path(runtime).is_dir():
        env["XDG_RUNTIME_DIR"] = runtime
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={runtime}/bus"
    return entry, env


def tail(data: bytes) -> str:
    return data[-MAX_OUTPUT:].decode(errors="replace")


def execute(request: dict[str, Any]) -> dict[str, Any]:
    argv = [str(a) for a in request["argv"]]
    timeout = float(request.get("timeout") or 600)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }
    preexec = None
    cwd = request.get("cwd")
    user = request.get("user")
    if user:
        entry, env = user_env(str(user))
        uid, gid = entry.pw_uid, entry.pw_gid

        def preexec() -> None:
            os.setsid()
            os.initgroups(str(user), gid)
            os.setgid(gid)
            os.setuid(uid)

        cwd = cwd or entry.pw_dir
    else:
        preexec = os.setsid
    env.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
    stdin = request.get("stdin")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            preexec_fn=preexec,
        )
    except OSError as exc:
        return {"rc": 127, "out": "", "err": f"{argv[0]}: {exc}"}
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        # The whole process group: a command's children (podman's conmon aside) go with it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        out, err = proc.communicate()
        note = f"\n[agent] killed after {timeout:.0f} s: {' '.join(argv)}\n"
        return {"rc": -9, "out": tail(out), "err": tail(err) + note}
    return {"rc": proc.returncode, "out": tail(out), "err": tail(err)}


def serve(fd: int) -> None:
    """Answer requests on ``fd`` until the host side goes away. One descriptor for both
    directions: a virtio port can be open only once at a time."""
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    lock = threading.Lock()

    def answer(reply: dict[str, Any]) -> None:
        data = (json.dumps(reply) + "\n").encode()
        with lock:
            try:
                while data:
                    data = data[os.write(fd, data) :]
            except OSError:
                pass  # the host went away; it asks again when it comes back

    def handle(request: dict[str, Any]) -> None:
        try:
            reply = execute(request)
        except Exception as exc:  # an agent bug must answer, not leave the host waiting
            reply = {"rc": 125, "out": "", "err": f"[agent] {type(exc).__name__}: {exc}"}
        answer({"id": request.get("id"), **reply})

    buf = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            # No host connected: the port reads as closed. Wait and read again.
            time.sleep(0.5)
            continue
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            try:
                request = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(request, dict):
                continue
            if request.get("ping"):
                answer({"id": request.get("id"), "pong": boot_id})
                continue
            threading.Thread(target=handle, args=(request,), daemon=True).start()


def main() -> None:
    serve(os.open(find_port(), os.O_RDWR))


if __name__ == "__main__":
    main()
