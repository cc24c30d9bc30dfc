"""A tiny HTTP proxy for the end-to-end tests: plain requests with an absolute URI are
forwarded, CONNECT is tunnelled, and every request line is kept for the test to read."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit


class TinyProxy:
    def __init__(self, address: str) -> None:
        self.server = socket.create_server((address, 0))
        self.server.settimeout(0.5)
        self.address = f"http://{address}:{self.server.getsockname()[1]}"
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            header, _, body = head.partition(b"\r\n\r\n")
            lines = header.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            self.requests.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                extra = body
            else:
                url = urlsplit(target)
                upstream = socket.create_connection((url.hostname, url.port or 80), timeout=30)
                path = url.path + (f"?{url.query}" if url.query else "")
                kept = [
                    ln for ln in lines[1:] if not ln.lower().startswith(("proxy-", "connection"))
                ]
                request = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
                extra = "\r\n".join(request).encode("latin-1") + body
            with upstream:
                upstream.sendall(extra)
                self._pipe(client, upstream)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        def copy(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

        other = threading.Thread(target=copy, args=(b, a), daemon=True)
        other.start()
        copy(a, b)
        other.join(30)
