"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose, byte by byte, for testing HTTP clients.

    server = HostileServer().start()            # or HostileServer(tls=make_tls_files(tmp_path))
    server.script("/api/x", "slow_body", interval=0.1)
    server.route("/api/y", lambda ex: ex.respond(200, b"[]"))   # any handler: Exchange -> keep the connection?
    ... requests against server.url + "/api/x" ...
    server.requests, server.seen[-1].headers                    # what arrived
    server.stop()

Every thread is a daemon; every loop ends when the client goes away, when stop() is called or after MAX_LIFE
seconds, whichever comes first. Unscripted paths answer 404.
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_LIFE = 60.0  # seconds any connection may live, whatever its script says
Handler = Callable[["Exchange"], bool]  # True: keep the connection open for the next request
REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Exchange:
    """One request as it arrived, and the socket to answer it on."""

    server: HostileServer
    sock: socket.socket
    conn: int  # which connection (0, 1, ...) it came on: equal numbers mean keep-alive reuse
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def alive(self) -> bool:
        return self.server.running()

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def head(self, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def respond(self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> bool:
        """A well-formed answer on a kept-alive connection."""
        head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        return self.send(self.head(status, head) + body)

    def nap(self, seconds: float) -> bool:
        """Wait as a script does between bytes; False once the server stops."""
        return not self.server._stopping.wait(seconds) and self.alive()

    def trickle(self, data: bytes, interval: float) -> bool:
        return all(self.send(data[i : i + 1]) and self.nap(interval) for i in range(len(data)))


# --- scripts: each takes its parameters and returns a Handler ------------------------------------------------------
def json_answer(body: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    data = body if isinstance(body, bytes) else json.dumps({"ok": True} if body is None else body).encode()
    return lambda ex: ex.respond(status, data, headers)


def status(status: int = 503, retry_after: str | None = None, body: bytes = b"{}") -> Handler:
    return json_answer(body, status, {"Retry-After": retry_after} if retry_after is not None else None)


def slow_headers(interval: float = 0.1) -> Handler:
    """Headers that never end: one byte of an endless header line per interval."""

    def run(ex: Exchange) -> bool:
        ex.send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        ex.trickle(b"a" * 60_000, interval)  # stays under http.client's 64 KiB line limit
        return False

    return run


def slow_body(interval: float = 0.1, length: int = 100_000) -> Handler:
    """Prompt headers (Connection: close), then one body byte per interval."""

    def run(ex: Exchange) -> bool:
        ex.send(ex.head(200, {"Content-Length": str(length), "Connection": "close"}))
        ex.trickle(b"1" * length, interval)
        return False

    return run


def endless(chunk: int = 65536, limit: int = 1 << 34) -> Handler:
    """A chunked body that goes on (up to `limit` bytes) as fast as the client reads."""

    def run(ex: Exchange) -> bool:
        piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        ex.send(ex.head(200, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}))
        sent = 0
        while sent < limit and ex.alive() and ex.send(piece):
            sent += chunk
        return False

    return run


def huge(size: int = 64 << 20) -> Handler:
    """An honest Content-Length, just too big."""

    def run(ex: Exchange) -> bool:
        ex.send(ex.head(200, {"Content-Length": str(size)}))
        block, left = b"\0" * 65536, size
        while left > 0 and ex.alive() and ex.send(block[: min(left, len(block))]):
            left -= len(block)
        return False

    return run


@functools.cache
def gzip_of_zeros(size: int) -> bytes:
    """`size` zeros gzip-compressed (1 GiB → about 1 MB), as members of 64 MiB each (built once per process)."""
    member = min(size, 64 << 20)
    one = gzip.compress(b"\0" * member, compresslevel=9)
    return one * (size // member) + (gzip.compress(b"\0" * (size % member)) if size % member else b"")


def gzip_bomb(size: int = 1 << 30, chunked: bool = False) -> Handler:
    def run(ex: Exchange) -> bool:
        data = gzip_of_zeros(size)
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(data))}
        ex.send(ex.head(200, {"Content-Encoding": "gzip", "Content-Type": "application/json", **framing}))
        for i in range(0, len(data), 65536):
            piece = data[i : i + 65536]
            if not ex.alive() or not ex.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece):
                return False
        ex.send(b"0\r\n\r\n" if chunked else b"")
        return False

    return run


def bad_gzip() -> Handler:
    return json_answer(b"this is not gzip, whatever the header says" * 10, headers={"Content-Encoding": "gzip"})


def broken_chunked() -> Handler:
    def run(ex: Exchange) -> bool:
        ex.send(ex.head(200, {"Transfer-Encoding": "chunked"}) + b"5\r\n[1, 2\r\nzz\r\nnot a chunk size\r\n")
        return False

    return run


def reset(after: int = 1000, length: int = 100_000) -> Handler:
    """Promise `length` bytes, send `after`, then reset the connection (RST, not FIN)."""

    def run(ex: Exchange) -> bool:
        ex.send(ex.head(200, {"Content-Length": str(length)}) + b" " * after)
        ex.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    return run


def half_open() -> Handler:
    """Read the request, never answer; hold the connection until the client gives up."""

    def run(ex: Exchange) -> bool:
        while ex.alive():
            try:
                if not ex.sock.recv(1024):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        return False

    return run


def close() -> Handler:
    """Read the request, hang up without a word."""
    return lambda ex: False


def not_http() -> Handler:
    """Another protocol on the port."""
    return lambda ex: ex.send(b"SSH-2.0-OpenSSH_9.6\r\n") and False


def redirect(location: str | None = None, code: int = 302) -> Handler:
    """To `location`, or to the same path: a loop."""

    def run(ex: Exchange) -> bool:
        return ex.respond(code, b"", {"Location": location or ex.target})

    return run


def deep_json(depth: int = 100_000) -> Handler:
    return json_answer(b"[" * depth + b"]" * depth)


def nan_json() -> Handler:
    return json_answer(b'{"value": NaN}')


def big_number(digits: int = 5000) -> Handler:
    return json_answer(b'{"value": ' + b"7" * digits + b"}")


def bad_utf8() -> Handler:
    return json_answer(b'{"name": "caf\xe9"}')


def html(status: int = 200) -> Handler:
    page = b"<!DOCTYPE html><html><body><form action=/login>Log in</form></body></html>"
    return json_answer(page, status, {"Content-Type": "text/html; charset=utf-8"})


def not_found() -> Handler:
    return json_answer({"message": "no such path"}, 404)


SCRIPTS: dict[str, Callable[..., Handler]] = {"json": json_answer} | {
    script.__name__: script
    for script in (
        status,
        slow_headers,
        slow_body,
        endless,
        huge,
        gzip_bomb,
        bad_gzip,
        broken_chunked,
        reset,
        half_open,
        close,
        not_http,
        redirect,
        deep_json,
        nan_json,
        big_number,
        bad_utf8,
        html,
    )
}


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA that signed cert
    cert: Path  # for 127.0.0.1
    key: Path
    other_ca: Path  # an unrelated CA


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1 it signed, and an unrelated CA, made with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    for name in ("ca", "other-ca"):
        run(
            "req",
            "-x509",
            *ec,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-subj",
            f"/CN=fdc test {name}",
            *ca_ext,
        )
    run("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    )
    return TlsFiles(
        directory / "ca.pem", directory / "server.pem", directory / "server.key", directory / "other-ca.pem"
    )


@dataclass
class HostileServer:
    """HTTP (or HTTPS with `tls`) on 127.0.0.1, an ephemeral port; routes map a path (no query) to a Handler."""

    tls: TlsFiles | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Exchange] = field(default_factory=list)  # every request that arrived, in order

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._born = 0.0
        self._port = 0
        self._context: ssl.SSLContext | None = None
        if self.tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(self.tls.cert, self.tls.key)

    def start(self) -> HostileServer:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.1)
        self._port = int(self._listener.getsockname()[1])
        self._born = time.monotonic()
        self._spawn(self._accept)
        return self

    @property
    def port(self) -> int:
        assert self._port, "start() the server first"
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        return len(self.seen)

    def script(self, path: str, name: str, **params: Any) -> HostileServer:
        """Answer `path` with one of SCRIPTS, e.g. script("/x", "status", status=503, retry_after="1")."""
        return self.route(path, SCRIPTS[name](**params))

    def route(self, path: str, handler: Handler) -> HostileServer:
        self.routes[path] = handler
        return self

    def running(self) -> bool:
        return not self._stopping.is_set() and time.monotonic() - self._born < MAX_LIFE

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="hostile-server")
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _accept(self) -> None:
        assert self._listener is not None
        count = 0
        while self.running():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, sock, count)
            count += 1

    def _serve(self, sock: socket.socket, conn: int) -> None:
        try:
            sock.settimeout(5)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_side=True)
            sock.settimeout(0.1)
            buffer = b""
            while self.running():
                exchange, buffer = self._read_request(sock, conn, buffer)
                if exchange is None:
                    return
                with self._lock:
                    self.seen.append(exchange)
                if not self.routes.get(exchange.path, not_found())(exchange):
                    return
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            pass  # the client hung up or spoke nonsense: this is a hostile server, not a careful one
        finally:
            sock.close()

    def _read_request(self, sock: socket.socket, conn: int, buffer: bytes) -> tuple[Exchange | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > 65536 or not self.running():
                return None, b""
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return None, b""
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = first.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length and self.running():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return None, b""
            rest += data
        exchange = Exchange(self, sock, conn, method, target, headers, rest[:length])
        return exchange, rest[length:]
