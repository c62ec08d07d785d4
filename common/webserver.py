"""Serving a small web app from either half: uvicorn's pure-Python h11 server (a Pi Zero has no wheels for C
extensions) in a thread of its own, beside the MQTT loop, on a socket bound at start — so a taken port is a
sentence at start, not a traceback later. The webhook receiver and `fdc web` both run on it."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from typing import Any

import uvicorn
import voluptuous as vol

_LISTEN = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|\*)?:(\d{1,5})$")


def listen(value: Any) -> str:
    """Config validator: `host:port` (`[::1]:8080` for IPv6); the host may be left out (`:8080`: every interface)."""
    m = _LISTEN.match(value.strip()) if isinstance(value, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise vol.Invalid(f"{value!r} is not host:port, like 127.0.0.1:8080 (0.0.0.0:8080 to listen everywhere)")
    return str(value).strip()


def address(listen_value: str) -> tuple[str, int]:
    """`listen` → (host, port) for bind(): an empty host or `*` is every IPv4 interface."""
    host, _, port = listen_value.rpartition(":")
    host = host.strip("[]")
    return ("0.0.0.0" if host in ("", "*") else host), int(port)


class ListenError(Exception):
    """The socket could not be bound; `str()` says where and why (the caller names its setting)."""


class ThreadedServer:
    """An ASGI app on uvicorn's h11 server in its own thread. No access log (a query may carry a token), no
    server header, bounded connections and header sizes."""

    def __init__(self, app: Any, listen_value: str, *, name: str, log: logging.Logger, **options: Any) -> None:
        self.host, self.port = address(listen_value)
        self.name, self.log = name, log
        settings: dict[str, Any] = {"http": "h11", "timeout_keep_alive": 5, "h11_max_incomplete_event_size": 16 * 1024}
        settings.update(options)
        config = uvicorn.Config(app, ws="none", lifespan="off", log_config=None, access_log=False,
                                server_header=False, **settings)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None
        self.sock: socket.socket | None = None

    def start(self) -> None:
        """Bind now (ListenError when that fails), then serve in the background."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as e:
            sock.close()
            raise ListenError(f"cannot listen on {self.host}:{self.port} ({e.strerror})") from None
        self.sock = sock
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start-up lines say nothing of ours
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.sock is not None
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except Exception:  # the service goes on beside it; the log says why this server stopped
            self.log.exception("the %s server stopped", self.name)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        if self.sock is not None:
            self.sock.close()
