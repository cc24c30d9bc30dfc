"""A booted test guest: qemu on a copy-on-write overlay of the cached disk, driven through the
agent on a virtio-serial port.

Every wait has a limit. A guest that does not answer in time is killed and the failure is one
line (:class:`GuestError`) naming what was waited for and where its console log is.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nestkube import _exec
from nestkube.cache import cache_root, content_key
from nestkube.errors import NestkubeError
from nestkube.status import SILENT, Status
from nestkube.testing.guest.image import USER, GuestDisk

# A KVM guest reaches the agent in seconds; one that has not in this long is the hang seen on
# some hosts (stuck after the boot loader), so the harness falls back to TCG.
KVM_BOOT_LIMIT = 60.0
# systemd reaches multi-user in about 40 s under TCG on 2 cores; a busy host doubles that.
BOOT_LIMIT = 300.0
POWEROFF_LIMIT = 120.0
# What a command's own limit is given on top before the guest counts as hung.
ANSWER_GRACE = 60.0
PAYLOAD_MOUNT = "/mnt/payload"


class GuestError(NestkubeError):
    """The guest failed, hung or was killed; the message is one line."""


@dataclass(frozen=True)
class GuestResult(_exec.Result):
    """A command's result as :mod:`nestkube._exec` gives it, and who ran it in the guest."""

    user: str | None = None


class GuestCommandError(GuestError):
    def __init__(self, result: GuestResult) -> None:
        self.result = result
        who = f" as {result.user}" if result.user else ""
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
        super().__init__(
            f"in the guest{who}: {' '.join(result.args)} exited {result.returncode}: {last[0]}"
        )


def qemu_binary() -> str:
    found = shutil.which("qemu-system-x86_64")
    if not found:
        raise GuestError("qemu-system-x86_64 not found: apt-get install qemu-system-x86 qemu-utils")
    return found


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def _accel_verdict_file() -> Path:
    """Where this host's KVM verdict is kept: per kernel and qemu, since either can fix a hang."""
    qemu = _exec.run([qemu_binary(), "--version"], check=False, timeout=30).stdout.splitlines()[:1]
    return cache_root() / "guest" / f"kvm-{content_key([os.uname().release, *qemu])}"


def make_payload(source: Path, dest: Path) -> Path:
    """An ext4 image of ``source`` for the guest's second drive (read-only there)."""
    size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    megabytes = int(size * 1.15 / (1 << 20)) + 64
    _exec.run(
        ["mkfs.ext4", "-q", "-L", "payload", "-d", str(source), str(dest), f"{megabytes}M"],
        what="mkfs.ext4 payload",
        timeout=600,
    )
    return dest


class Guest:
    """One test VM. Use as a context manager: leaving it powers the guest off (or kills it)
    and removes its overlay; the cached disk is never written."""

    def __init__(
        self,
        disk: GuestDisk,
        workdir: Path,
        *,
        payload: Path | None = None,
        memory_mb: int = 6144,
        cpus: int = 2,
        status: Status = SILENT,
    ) -> None:
        self.disk = disk
        self.workdir = workdir
        self.payload = payload
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.status = status
        self.overlay = workdir / "overlay.qcow2"
        self.console = workdir / "console.log"
        self.socket_path = workdir / "agent.sock"
        self.accel = ""
        self.boots = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._eof = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Guest:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.overlay.exists():
            _exec.run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    "raw",
                    "-b",
                    str(self.disk.root),
                    str(self.overlay),
                ],
                what="qemu-img create overlay",
                timeout=60,
            )
        try:
            self.boot()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.running:
                self.poweroff()
        finally:
            self.kill()
            self.overlay.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def boot(self) -> float:
        """Start the guest and wait for its agent; returns the seconds it took."""
        verdict = _accel_verdict_file()
        if kvm_usable() and not verdict.exists():
            try:
                return self._boot("kvm", KVM_BOOT_LIMIT)
            except GuestError as exc:
                self.kill()
                verdict.parent.mkdir(parents=True, exist_ok=True)
                verdict.write_text(f"{exc}\n")
                self.status.info(f"KVM guest did not come up ({exc}); using TCG")
        return self._boot("tcg", BOOT_LIMIT)

    def _qemu_argv(self, accel: str) -> list[str]:
        argv = [
            qemu_binary(),
            "-name",
            "nestkube-guest",
            "-machine",
            "q35",
            "-m",
            str(self.memory_mb),
            "-smp",
            str(self.cpus),
            "-kernel",
            str(self.disk.kernel),
            "-initrd",
            str(self.disk.initrd),
            "-append",
            "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0",
            "-drive",
            f"file={self.overlay},format=qcow2,if=virtio,cache=unsafe",
            "-nic",
            "none",
            "-display",
            "none",
            "-serial",
            f"file:{self.console}",
            "-device",
            "virtio-serial-pci",
            "-chardev",
            f"socket,id=agent,path={self.socket_path},server=on,wait=off",
            "-device",
            "virtserialport,chardev=agent,name=io.nestkube.agent",
            "-device",
            "virtio-rng-pci",
            "-no-reboot",
        ]
        if accel == "kvm":
            argv += ["-accel", "kvm", "-cpu", "host"]
        else:
            argv += ["-accel", "tcg,thread=multi", "-cpu", "max"]
        if self.payload is not None:
            argv += ["-drive", f"file={self.payload},format=raw,if=virtio,readonly=on"]
        return argv

    def _boot(self, accel: str, limit: float) -> float:
        started = time.monotonic()
        self.socket_path.unlink(missing_ok=True)
        self._eof = False
        self._replies.clear()
        with self.status.step(f"Booting the guest ({accel})"):
            self._proc = subprocess.Popen(
                self._qemu_argv(accel),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=(self.workdir / "qemu.err").open("wb"),
                start_new_session=True,
            )
            self._connect(started + 30)
            self._wait_ping(started + limit, accel)
        self.accel = accel
        self.boots += 1
        if self.payload is not None:
            self.root("mkdir", "-p", PAYLOAD_MOUNT)
            self.root("mount", "-o", "ro", "/dev/vdb", PAYLOAD_MOUNT)
        return time.monotonic() - started

    def _connect(self, deadline: float) -> None:
        while True:
            self._check_alive("the agent socket")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise GuestError(
                        f"qemu made no agent socket in time; {self._where()}"
                    ) from None
                time.sleep(0.2)
                continue
            self._sock = sock
            self._reader = threading.Thread(target=self._read, args=(sock,), daemon=True)
            self._reader.start()
            return

    def _read(self, sock: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._eof = True
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue
                if isinstance(reply, dict) and isinstance(reply.get("id"), int):
                    with self._cond:
                        self._replies[reply["id"]] = reply
                        self._cond.notify_all()

    def _send(self, request: dict[str, Any]) -> int:
        ident = next(self._ids)
        data = (json.dumps({**request, "id": ident}) + "\n").encode()
        if self._sock is None:
            raise GuestError("the guest is not running")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise GuestError(f"the agent's socket failed ({exc}); {self._where()}") from exc
        return ident

    def _wait_reply(self, ident: int, deadline: float) -> dict[str, Any] | None:
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self._eof or not self.running:
                    return None
                self._cond.wait(min(left, 1.0))
            return self._replies.pop(ident)

    def _wait_ping(self, deadline: float, accel: str) -> None:
        # The port may not be open in the guest yet: ask again until an answer comes.
        while True:
            self._check_alive("the agent")
            ident = self._send({"ping": True})
            reply = self._wait_reply(ident, min(deadline, time.monotonic() + 3))
            if reply is not None and reply.get("pong"):
                return
            if time.monotonic() > deadline:
                raise GuestError(
                    f"the {accel} guest's agent did not answer in time; {self._where()}"
                )

    def _check_alive(self, waiting_for: str) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            err = (self.workdir / "qemu.err").read_text(errors="replace").strip().splitlines()
            why = err[-1] if err else f"exit {self._proc.returncode}"
            raise GuestError(f"qemu exited while waiting for {waiting_for}: {why}; {self._where()}")

    def _where(self) -> str:
        return f"console log: {self.console}"

    def kill(self) -> None:
        """Stop qemu at once (its own process, by PID) and drop the connection."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=30)
            self._proc = None

    def poweroff(self, limit: float = POWEROFF_LIMIT) -> None:
        """Shut the guest down cleanly; a guest that does not stop in time is killed."""
        if not self.running:
            return
        with contextlib.suppress(GuestError):
            self._send({"argv": ["systemctl", "poweroff"], "timeout": 30})
        assert self._proc is not None
        try:
            self._proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestError(
                f"the guest did not power off within {limit:.0f} s and was killed; {self._where()}"
            ) from None
        self.kill()

    def reboot(self) -> float:
        """Power off and boot the same disk again (what a host reboot is to the cluster)."""
        self.poweroff()
        return self._boot(self.accel or "tcg", BOOT_LIMIT)

    # -- commands --------------------------------------------------------------------------

    def run(
        self,
        *argv: str,
        user: str | None = None,
        timeout: float = 300,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        cwd: str | None = None,
    ) -> GuestResult:
        """Run ``argv`` in the guest, as root or as ``user`` (with the user's runtime dir and
        bus when the user lingers)."""
        request = {
            "argv": list(argv),
            "user": user,
            "timeout": timeout,
            "env": dict(env or {}),
            "stdin": stdin,
            "cwd": cwd,
        }
        self._check_alive(argv[0])
        ident = self._send(request)
        reply = self._wait_reply(ident, time.monotonic() + timeout + ANSWER_GRACE)
        if reply is None:
            self._check_alive(" ".join(argv))
            self.kill()
            raise GuestError(
                f"the guest did not answer `{' '.join(argv)}` within {timeout + ANSWER_GRACE:.0f}"
                f" s and was killed; {self._where()}"
            )
        result = GuestResult(
            list(argv), int(reply.get("rc", 125)), reply.get("out", ""), reply.get("err", ""), user
        )
        if check and not result.ok:
            raise GuestCommandError(result)
        return result

    def root(self, *argv: str, **kw: Any) -> GuestResult:
        return self.run(*argv, **kw)

    def user(self, *argv: str, **kw: Any) -> GuestResult:
        return self.run(*argv, user=USER, **kw)

    def sh(self, script: str, *, user: str | None = None, **kw: Any) -> GuestResult:
        return self.run("/bin/sh", "-c", script, user=user, **kw)

    def journal(self, *units: str, user: bool = False, lines: int = 150) -> str:
        """The guest's journal for ``units`` (the user's units with ``user``): what a failing
        test prints so the failure can be read from CI's log alone."""
        argv = ["journalctl", "--no-pager", "-o", "short-monotonic", "-n", str(lines)]
        for unit in units:
            argv += ["--user-unit" if user else "-u", unit]
        if user and not units:
            argv += [f"_UID={self.uid()}"]
        try:
            got = self.run(*argv, timeout=60, check=False)
        except GuestError as exc:
            return f"(no journal: {exc})"
        return got.stdout or got.stderr

    def diagnostics(self) -> str:
        """What a failing test shows of the guest: its failed units (the system's and the
        user's) with their journals, the user's own journal, and each node container's log
        and kubelet/containerd journal. Best effort: a hung guest yields what it could."""
        if not self.running:
            return f"(the guest is not running; {self._where()})"
        parts: list[str] = []

        def add(title: str, *argv: str, user: str | None = None) -> str:
            """Show the command's output and errors; give back its output alone, to read."""
            try:
                got = self.run(*argv, user=user, timeout=60, check=False)
            except GuestError as exc:
                parts.append(f"--- {title}\n({exc})")
                return ""
            parts.append(f"--- {title}\n{(got.stdout + got.stderr).strip()}")
            return got.stdout

        for scope, user in (("", None), ("the user's ", USER)):
            listed = ["systemctl", *(["--user"] if user else []), "--failed", "--plain"]
            failed = add(f"{scope}failed units", *listed, "--no-legend", user=user)
            units = [line.split()[0] for line in failed.splitlines() if line.split()]
            for unit in units:
                parts.append(
                    f"--- journal of {scope}{unit}\n{self.journal(unit, user=bool(user), lines=80)}"
                )
        parts.append(f"--- the user's journal\n{self.journal(user=True, lines=120)}")
        nodes = add(
            "nestkube containers",
            "podman",
            "ps",
            "-a",
            "--filter",
            "label=io.nestkube.cluster",
            "--format",
            "{{.Names}} {{.Status}}",
            user=USER,
        )
        for line in nodes.splitlines()[:6]:
            name = line.split()[0] if line.split() else ""
            if not name:
                continue
            add(f"podman logs {name}", "podman", "logs", "--tail", "40", name, user=USER)
            add(
                f"{name}: kubelet and containerd",
                "podman",
                "exec",
                name,
                "journalctl",
                "--no-pager",
                "-n",
                "60",
                "-u",
                "kubelet",
                "-u",
                "containerd",
                user=USER,
            )
        return "\n".join(parts)

    def uid(self, name: str = USER) -> int:
        return int(self.run("id", "-u", name, timeout=30).stdout.strip())

    def write(self, path: str, text: str, *, user: str | None = None, mode: str = "644") -> None:
        self.run("/bin/sh", "-c", f'cat > "$0" && chmod {mode} "$0"', path, user=user, stdin=text)
