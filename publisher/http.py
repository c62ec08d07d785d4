"""The one HTTP client every polled source uses: requests + urllib3 Retry, hardened against hostile servers.

requests' timeout bounds each socket read, not a request: a server trickling a byte a second never trips it. So
every request() has a total deadline (3 × timeout) over connect, answer, body and retries: a watchdog timer shuts
down the sockets of a request past its deadline, and cancel() does the same without taking a lock (it may run in a
signal handler on the very thread blocked in request()). Bodies are streamed and capped after decompression, and
every failure is an HttpError whose text is a sentence without secrets or library reprs.
"""

from __future__ import annotations

import copy
import http.client
import json as jsonlib
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from urllib3 import exceptions as u3
from urllib3.util.retry import Retry

from publisher.deadline import (
    CHUNK,
    Adapter,
    Call,
    DeadlineRetry,
    Session,
    Stop,
    content_length,
    drop_redirect_body,
    local,
)
from publisher.deadline import (
    make_retry as make_retry,  # re-exported: sources build their Retry here
)
from publisher.source import SourceError

log = logging.getLogger("fdc.http")
logging.getLogger("urllib3").setLevel(logging.ERROR)  # its retry warnings are reprs, its debug lines show queries


class HttpError(SourceError):
    """`str()` is a sentence for people; `status` the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    """A fully read answer, whatever its status: what a status means is the caller's to word."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    url: str
    retries: int

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Traffic:
    requests: int = 0  # HTTP requests sent, retries included
    bytes: int = 0  # body bytes received


class HttpClient:
    """One requests.Session for one server, shared by a few reader threads."""

    def __init__(
        self,
        *,
        label: str,
        fix: str,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        timeout: float = 10.0,
        retry: Retry | None = None,
        max_bytes: int = 16 * 1024 * 1024,
        pool_size: int = 8,
        verify_setting: str | None = None,
    ) -> None:
        self.label, self.fix, self.timeout, self.max_bytes, self.verify = label, fix, timeout, max_bytes, verify
        self.deadline = 3 * timeout
        if verify is False:  # asked for: no warning on every request
            urllib3.disable_warnings(u3.InsecureRequestWarning)
        named = re.search(r"\b([\w-]+)\.url\b", fix)  # "check bamboo.url ..." → "bamboo.verify"
        self.verify_setting = verify_setting or (f"{named[1]}.verify" if named else "the verify setting")
        self.traffic = Traffic()
        self.server_time: datetime | None = None
        self._lock = threading.Lock()  # traffic only; cancel() takes no lock
        self._stopped = False
        self._calls: set[Call] = set()
        s = self._session = Session()
        s.headers.update({"Accept": "application/json", "User-Agent": "friday-deploy-counter", **(headers or {})})
        s.auth, s.max_redirects = basic_auth, 5
        s.hooks["response"].append(drop_redirect_body)
        retry = copy.copy(retry or make_retry())
        retry.__class__, retry.raise_on_status = DeadlineRetry, False  # any HTTP status is an Answer
        adapter = Adapter(max_retries=retry, pool_connections=2, pool_maxsize=pool_size)
        s.mount("http://", adapter)
        s.mount("https://", adapter)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """An Answer for any HTTP status (after retries); HttpError for every transport problem."""
        if self._stopped:
            raise HttpError(f"reading {what} from {self.label} was stopped")
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise HttpError(
                f"the CA bundle {self.verify} for {self.label} does not exist: set {self.verify_setting}"
                " to the path of your CA bundle (or false to skip verification)"
            )
        try:
            clean = _without_credentials(url)
        except ValueError:
            raise HttpError(f"the address of {what} at {self.label} is not valid; {self.fix}") from None
        call, start, r, status = Call(self, self.deadline), time.monotonic(), None, "failed"
        self._calls.add(call)
        watchdog = threading.Timer(self.deadline, call.expire)  # shuts the call's sockets down at its deadline
        watchdog.daemon = True
        watchdog.start()
        local.call = call
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify
            send: dict[str, Any] = {"timeout": (self.timeout, self.timeout), "verify": self.verify, "stream": True}
            r = self._session.request(method, clean, params=dict(params or {}), json=json, headers=headers, **send)
            body = self._read(r, call, what)
            retries = sum(len(getattr(h.raw.retries, "history", ()) or ()) for h in [*r.history, r])
            self.server_time, status = _date(r.headers.get("Date")), str(r.status_code)
            return Answer(r.status_code, r.headers, body, _without_credentials(r.url), retries)
        except Exception as e:
            raise self._failure(e, call, what, r) from None
        finally:
            local.call = None
            watchdog.cancel()
            self._calls.discard(call)
            if r is not None:
                r.close()
            call.release()
            with self._lock:
                self.traffic.requests += call.sent
                self.traffic.bytes += call.received
            path, ms = _path(r.url if r is not None else clean), (time.monotonic() - start) * 1000
            log.debug("%s %s: %s, %d bytes, %.0f ms, %d retries", method, path, status, call.received, ms, call.retries)

    def _read(self, r: requests.Response, call: Call, what: str) -> bytes:
        too_big = HttpError(f"{self.label} sent more than {_size(self.max_bytes)} for {what}")
        if content_length(r.headers) > self.max_bytes:
            raise too_big
        body = bytearray()
        for chunk in r.iter_content(CHUNK):
            body += chunk
            call.received = len(body)
            if len(body) > self.max_bytes:
                raise too_big
            call.check()
        call.check()  # a socket shut down by the watchdog or cancel() reads as an end: it may look complete
        return bytes(body)

    def _failure(self, e: Exception, call: Call, what: str, r: requests.Response | None) -> HttpError:
        label, fix, causes = self.label, self.fix, list(_causes(e))
        if isinstance(e, HttpError):
            return e
        if self._stopped:
            return HttpError(f"reading {what} from {label} was stopped")
        if call.expired or isinstance(e, Stop):
            return HttpError(f"{label} did not answer {what} within {self.deadline:g} s; {fix}")
        cert = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
        reason = _reason(causes)
        if cert is not None:
            return HttpError(
                f"TLS verification failed for {label} ({cert.verify_message or 'untrusted'}): set "
                f"{self.verify_setting} to the path of your CA bundle (or false to skip verification)"
            )
        if tls is not None:
            return HttpError(
                f"TLS with {label} failed ({str(tls.reason or 'handshake').lower().replace('_', ' ')}); {fix}"
            )
        if isinstance(e, requests.TooManyRedirects):
            return HttpError(f"{label} redirects in a loop for {what}; {fix}")
        if isinstance(e, requests.exceptions.ContentDecodingError):
            coding = r.headers.get("Content-Encoding") if r is not None else None
            return HttpError(f"{label} sent a broken response for {what} (bad {coding or 'compression'})")
        bad_url = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
        if any(isinstance(c, (*bad_url, u3.LocationValueError)) for c in causes):
            return HttpError(f"the address of {what} at {label} is not valid; {fix}")
        if any(isinstance(c, u3.NewConnectionError | u3.ConnectTimeoutError) for c in causes):
            return HttpError(f"cannot reach {label}: {reason}; {fix}")
        if any(isinstance(c, u3.ReadTimeoutError) for c in causes):
            return HttpError(f"{label} did not answer {what} within {self.timeout:g} s; {fix}")
        if reason == "not an HTTP answer":
            return HttpError(f"{label} did not answer {what} in HTTP; {fix}")
        if reason in ("broken chunked encoding", "malformed headers"):
            return HttpError(f"{label} sent a broken response for {what} ({reason})")
        return HttpError(
            f"{label} {'broke off the answer to' if r is not None else 'gave no answer to'} {what} ({reason}); {fix}"
        )

    def cancel(self) -> None:
        """Stop now, from a signal handler or another thread: only a flag and socket shutdowns, no lock."""
        self._stopped = True
        for call in list(self._calls):
            call.kill()

    def close(self) -> None:
        self.cancel()
        self._session.close()


class OverHttp:
    """What every source read over HTTP shares: no cheap change check, its clock from the answers' Date header,
    and cancel/close handed to its client (an object with `.http`, an HttpClient, and `.close()`)."""

    watch: float | None = None
    incremental = True
    client: Any

    @property
    def server_time(self) -> datetime | None:
        when: datetime | None = self.client.http.server_time
        return when

    def changed(self) -> bool:
        return False

    def cancel(self) -> None:
        self.client.http.cancel()

    def close(self) -> None:
        self.client.close()


def parse_json(answer: Answer, label: str, what: str) -> Any:
    """The body as JSON, or an HttpError sentence saying what arrived instead."""
    ctype, status = (answer.header("Content-Type") or "").split(";")[0].strip().lower(), answer.status
    if "html" in ctype or answer.body[:200].lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise HttpError(
            f"{label} answered {what} with an HTML page (HTTP {status}) instead of JSON: a login page "
            "or a proxy error?",
            status,
        )
    try:
        return jsonlib.loads(answer.body.decode("utf-8-sig"), parse_constant=_refuse, parse_float=_finite)
    except UnicodeDecodeError:
        raise HttpError(f"{label} sent {what} as text that is not valid UTF-8", status) from None
    except RecursionError:
        raise HttpError(f"{label} sent {what} nested too deeply to read", status) from None
    except jsonlib.JSONDecodeError as e:
        raise HttpError(
            f"{label} answered {what} with {ctype or 'no content type'} (HTTP {status}) that is not "
            f"JSON ({e.msg.lower()} at line {e.lineno} column {e.colno})",
            status,
        ) from None
    except ValueError as e:  # ours, or int()'s limit on digits
        why = e.args[0] if isinstance(e, _Refused) else "a number of too many digits"
        raise HttpError(f"{label} sent {what} with {why}, which cannot be read", status) from None


class _Refused(ValueError):
    pass


def _refuse(name: str) -> Any:
    raise _Refused(f"the constant {name}")


def _finite(text: str) -> float:
    if not math.isfinite(value := float(text)):
        raise _Refused(f"the number {text[:20]}")
    return value


def _causes(e: BaseException) -> Iterator[BaseException]:
    """The exception and all it wraps: urllib3 nests reasons in .reason, args, __cause__ and __context__."""
    seen, todo = set[int](), [e]
    while todo:
        if id(x := todo.pop(0)) not in seen:
            seen.add(id(x))
            yield x
            more = (getattr(x, "reason", None), x.__cause__, x.__context__, *x.args)
            todo += [c for c in more if isinstance(c, BaseException)]


_REASONS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
    (ConnectionRefusedError, "connection refused"),
    ((socket.gaierror, u3.NameResolutionError), "name not found"),
    (http.client.RemoteDisconnected, "the connection closed without an answer"),
    (ConnectionResetError, "connection reset"),
    (u3.InvalidChunkLength, "broken chunked encoding"),
    (http.client.IncompleteRead, "the connection closed before the whole answer arrived"),
    ((TimeoutError, u3.TimeoutError), "timed out"),
    ((BrokenPipeError, ConnectionAbortedError), "connection closed"),
    (http.client.BadStatusLine, "not an HTTP answer"),
    (http.client.HTTPException, "malformed headers"),
]


def _reason(causes: list[BaseException]) -> str:
    """The cause in a few plain words, never a library repr."""
    for kind, words in _REASONS:
        if any(isinstance(c, kind) for c in causes):
            return words
    text = next((c.strerror for c in causes if isinstance(c, OSError) and c.strerror), None)
    return text.lower() if text else f"an unexpected {type(causes[0]).__name__}"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


def _path(url: str) -> str:
    """Path and query for logs: no host, no credentials, secret-looking parameter values masked."""
    parts = urlsplit(url)
    query = re.sub(r"(?i)([^&=]*(?:token|key|secret|pass|auth|sig)[^&=]*)=[^&]*", r"\1=***", parts.query)
    return (parts.path or "/") + (f"?{query}" if query else "")


def _date(value: str | None) -> datetime | None:
    try:
        when = parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _size(n: int) -> str:
    unit, size = next(((u, s) for u, s in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)) if n >= s), ("", 1))
    return f"{n / size:.3g} {unit}" if unit else f"{n} bytes"
