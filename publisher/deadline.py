"""The deadline machinery under publisher/http.py: urllib3 hooks that let a request be stopped from outside.

requests' timeout bounds each socket read, not a request. Here every connection a request uses registers with
that request's Call; a watchdog (or cancel()) shuts those sockets down, which wakes whatever is blocked on them
from any thread without a lock. The Retry subclass keeps waits (Retry-After included) inside the deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

CHUNK = 64 * 1024  # urllib3 2.x decompresses at most `amt` per read, so no single read can blow up
local = threading.local()  # .call: the Call running on this thread, for the connection and Retry hooks


class Owner(Protocol):
    """The client a call belongs to: once it is stopped, every call of it ends."""

    _stopped: bool


class Stop(Exception):
    """Abandons a request that was cancelled or ran past its deadline, from inside urllib3."""


class Call:
    """One request() in flight: its deadline and the connections it uses, so they can be shut down."""

    def __init__(self, client: Owner, seconds: float) -> None:
        self.client, self.deadline, self.expired = client, time.monotonic() + seconds, False
        self.conns: list[Watched] = []
        self.sent = self.retries = self.received = 0

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> None:
        self.expired = self.expired or self.left() <= 0
        if self.expired or self.client._stopped:
            raise Stop

    def attach(self, conn: Watched) -> None:
        conn._fdc_call = self
        if conn not in self.conns:
            self.conns.append(conn)
        self.check()  # after attaching: cancel() either sees this connection or we see its flag

    def expire(self) -> None:
        self.expired = True
        self.kill()

    def kill(self) -> None:
        """Lock-free (a signal handler calls it): shutdown() wakes whatever is blocked on the socket."""
        for conn in list(self.conns):
            conn._fdc_shutdown(self)

    def release(self) -> None:
        for conn in self.conns:
            if conn._fdc_call is self:
                conn._fdc_call = None
                if conn.sock is None:
                    conn._fdc_forget()


class Watched(HTTPConnection):
    """Keeps a dup of its socket: shutting the dup down stops the connection (TCP, TLS handshake, proxy tunnel,
    answer, body) from any thread. A dup closed with the connection is kept until the call ends, because the
    body of a `Connection: close` answer is still read through it."""

    _fdc_dup: socket.socket | None = None
    _fdc_call: Call | None = None

    def _new_conn(self) -> socket.socket:
        call: Call | None = getattr(local, "call", None)
        if call is not None:
            call.attach(self)
            if isinstance(self.timeout, int | float):  # the connect cannot outlast the deadline either
                self.timeout = max(min(self.timeout, call.left()), 0.001)
        sock = super()._new_conn()
        self._fdc_forget()
        self._fdc_dup = sock.dup()
        try:
            if call is not None:
                call.check()
        except Stop:
            sock.close()
            raise
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        call: Call | None = getattr(local, "call", None)
        if call is not None:
            call.attach(self)
            call.sent += 1
        super().request(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._fdc_call is None:
                self._fdc_forget()

    def _fdc_forget(self) -> None:
        dup, self._fdc_dup = self._fdc_dup, None
        if dup is not None:
            dup.close()

    def _fdc_shutdown(self, call: Call) -> None:
        dup = self._fdc_dup
        if dup is not None and self._fdc_call is call:  # not a pooled connection another call has taken since
            with contextlib.suppress(OSError):
                dup.shutdown(socket.SHUT_RDWR)


class WatchedTLS(Watched, HTTPSConnection):
    pass


class Pool(HTTPConnectionPool):
    ConnectionCls = Watched


class TLSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedTLS


POOLS: dict[str, type[HTTPConnectionPool]] = {"http": Pool, "https": TLSPool}


class Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = POOLS
        return manager


class DeadlineRetry(Retry):
    """Waits (Retry-After included) stay inside the request's deadline and end at cancel()."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kw: Any) -> Self:
        call: Call | None = getattr(local, "call", None)
        new = super().increment(method, url, *args, **kw)  # raises when no retry is left
        if call is None:
            return new
        response, error = kw.get("response"), kw.get("error")
        pool: Any = kw.get("_pool")
        try:
            call.check()
            # a certificate does not get better by asking again; with no time left to wait, end with what we have
            if isinstance(error, u3.SSLError) or new._wait(response) >= call.left():
                raise u3.MaxRetryError(pool, url, error)
        except Stop:
            discard(response)
            raise
        if response is not None and not 0 <= content_length(response.headers) < CHUNK:
            discard(response)  # rather than let urllib3 drain a huge or endless error body
        call.retries += 1
        return new

    def _wait(self, response: BaseHTTPResponse | None) -> float:
        after = None
        if response is not None and self.respect_retry_after_header:
            with contextlib.suppress(u3.InvalidHeader, ValueError, OverflowError):  # garbage, or too many digits
                after = self.get_retry_after(response)
        return after or self.get_backoff_time()

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        call: Call | None = getattr(local, "call", None)
        if call is None:
            return super().sleep(response)
        end = time.monotonic() + min(self._wait(response), max(call.left(), 0))
        while (left := end - time.monotonic()) > 0:  # naps, as cancel() may take no lock to wake us
            call.check()
            time.sleep(min(left, 0.05))
        call.check()


def discard(response: BaseHTTPResponse | None) -> None:
    if response is not None:
        response.close()
        response.release_conn()


def make_retry(total: int = 4, backoff: float = 0.5) -> Retry:
    """Connection errors, 429 (honouring Retry-After) and 5xx, with exponential backoff, GET and POST."""
    return DeadlineRetry(
        total=total,
        connect=total,
        read=2,
        status=total,
        backoff_factor=backoff,
        backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class Session(requests.Session):
    _KEEP = frozenset({"accept", "accept-encoding", "connection", "content-length", "content-type", "user-agent"})

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """requests drops only Authorization on a redirect to another host: drop any other token header too."""
        if self.should_strip_auth(response.request.url or "", prepared_request.url or ""):  # type: ignore[no-untyped-call]
            for name in [n for n in prepared_request.headers if n.lower() not in self._KEEP]:
                del prepared_request.headers[name]
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]


def drop_redirect_body(r: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests reads a redirect's whole body (a gzip bomb? endless?) before following it: close it instead."""
    if r.is_redirect:
        r.close()


def content_length(headers: Mapping[str, str]) -> int:
    """Content-Length, -1 when absent or garbage (never int() on thousands of digits)."""
    value = (headers.get("Content-Length") or "").strip()
    return -1 if not value.isdigit() else int(value) if len(value) < 19 else 1 << 62
