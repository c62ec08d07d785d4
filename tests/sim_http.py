"""The HTTP half every source simulator shares (tests/bamboo_sim.py, github_sim.py, gitlab_sim.py): a threading
server on 127.0.0.1 on a free port, a `Date` header from the simulator's own clock, and one method to implement.

A test simulator, not a product server: http.server is fine here, and it keeps the simulators byte-exact.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Answer = Callable[[BaseHTTPRequestHandler], None]  # a simulator route that answers on the raw socket itself
DEEP = b"[" * 100_000 + b"]" * 100_000  # JSON nested deeper than any parser should follow


def send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> int:
    """One whole answer: status, headers, a correct Content-Length, the body; returns the bytes of body sent."""
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)
    return len(body)


def raw(body: bytes, status: int = 200, ctype: str = "application/json", **headers: str) -> Answer:
    """An answer of exactly these bytes (`Link=` → a `Link` header)."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        send(h, status, body, {"Content-Type": ctype, **{k.replace("_", "-"): v for k, v in headers.items()}})

    return answer


def wire(data: bytes) -> Answer:
    """Bytes straight onto the socket, status line and all: for transports no server library would send."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(data)
        h.wfile.flush()

    return answer


class SimServer:
    """Subclasses set `now` (None: the real clock), `base_path` (what `url` ends with) and `_handle`."""

    now: Callable[[], datetime] | None = None
    keep_alive = False  # HTTP/1.1 with TCP_NODELAY (GitHub's clients reuse connections)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_path(self) -> str:
        return ""

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.base_path}"

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if sim.keep_alive else "HTTP/1.0"

            def log_message(self, *a: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                if sim.keep_alive:  # keep-alive without 40 ms delayed-ACK stalls
                    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def date_time_string(self, timestamp: float | None = None) -> str:
                if sim.now is None or timestamp is not None:
                    return super().date_time_string(timestamp)
                return super().date_time_string(sim.now().timestamp())

            def do_GET(self) -> None:
                sim._handle(self, "GET")

            def do_POST(self) -> None:
                sim._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
