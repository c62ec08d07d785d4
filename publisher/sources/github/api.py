"""GitHub's REST API on the hardened HTTP client: conditional requests, `Link` paging, rate limits, sentences.

Rate limits are honoured here, not by retrying: a 403/429 that says the limit is used up (x-ratelimit-remaining
0, or a secondary limit with retry-after) blocks every request until the reset on the monotonic clock, and each
refused call is one SourceError sentence (it lands in state.error) — no request is sent meanwhile, so a service
polling every few seconds never hammers GitHub. 5xx and connection errors are retried by urllib3 as elsewhere.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from urllib3.util.retry import Retry

from publisher.http import Answer, HttpClient, HttpError, Traffic, make_retry, parse_json

API_VERSION = "2022-11-28"
MAX_BLOCK = 2 * 3600.0  # no reset is further away than an hour; a larger one is garbage, not a reason to stop for days
SECONDARY_WAIT = 60.0  # GitHub: without retry-after, wait at least a minute after a secondary rate limit
SCOPES = (
    "give a classic token the repo_deployment scope (repo for private repositories), or a fine-grained "
    "token Deployments: read on the repository"
)


class RateLimited(HttpError):
    """GitHub said to wait: nothing is sent until the time in the sentence."""


@dataclass(frozen=True)
class Reply:
    fresh: bool  # False: 304, what was remembered still holds
    data: Any
    etag: str | None
    next: str | None  # the `Link: rel="next"` page, already checked to be on this API


def web_base(api: str) -> str:
    """Where people open what the API describes: api.github.com → github.com, GHES HOST/api/v3 → HOST."""
    parts = urlsplit(api)
    if parts.path.rstrip("/").endswith("/api/v3"):
        return api.rstrip("/")[: -len("/api/v3")]
    if parts.hostname and parts.hostname.startswith("api."):
        return f"{parts.scheme}://{parts.netloc.removeprefix('api.')}{parts.path}".rstrip("/")
    return api.rstrip("/")


class GitHubClient:
    """One HTTP client for one GitHub (or GHES) API, shared by the reader threads."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        verify: bool | str = True,
        timeout: float = 10.0,
        retry: Retry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = url.rstrip("/")
        self.web = web_base(self.api)
        self.label = f"GitHub at {self.api}"
        self.clock = clock
        self._until: float | None = None  # monotonic time before which no request is sent
        self._why = ""
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        retry = (retry or make_retry()).new(status_forcelist=(500, 502, 503, 504))  # 429 is a back-off, not a retry
        self.http = HttpClient(
            label=self.label,
            fix="check github.url and the network",
            headers=headers,
            verify=verify,
            timeout=timeout,
            retry=retry,
        )

    @property
    def traffic(self) -> Traffic:
        return self.http.traffic

    def close(self) -> None:
        self.http.close()

    def bad(self, what: str, problem: str) -> HttpError:
        return HttpError(f"{self.label} sent {what} that this version cannot read: {problem}")

    def get(
        self,
        url: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
        missing: str | None = None,
    ) -> Reply:
        """One GET (`url` a path under the API, or a checked next link); `missing` is the 404 sentence."""
        if self._until is not None:
            if self.clock() < self._until:
                raise RateLimited(self._why, 429)
            self._until = None
        full = url if url.startswith(self.api + "/") else self.api + url
        answer = self.http.request(
            "GET", full, what=what, params=params, headers={"If-None-Match": etag} if etag else None
        )
        self._note_limit(answer)
        if answer.status == 304 and etag:
            return Reply(False, None, etag, None)
        if answer.status >= 300:
            raise self._refusal(answer, what, missing)
        data = parse_json(answer, self.label, what)
        return Reply(True, data, _etag(answer.header("ETag")), self._next(answer.header("Link"), what))

    # --- rate limits --------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self.http.server_time or datetime.now(UTC)

    def _block(self, seconds: float, why: str) -> str:
        seconds = min(max(seconds, 1.0), MAX_BLOCK)
        until = self._now() + timedelta(seconds=seconds)
        sentence = f"{why}: no requests to GitHub until {until:%H:%M:%S} UTC ({seconds:.0f} s)"
        end = self.clock() + seconds
        if self._until is None or end >= self._until:
            self._until, self._why = end, sentence
        return sentence

    def _to_reset(self, answer: Answer) -> float | None:
        reset = _number(answer.header("x-ratelimit-reset"))
        return None if reset is None else reset - self._now().timestamp() + 1

    def _note_limit(self, answer: Answer) -> None:
        """An answer that used the last request of the hour blocks the next ones until the reset."""
        if answer.status < 400 and _number(answer.header("x-ratelimit-remaining")) == 0:
            wait = self._to_reset(answer)
            if wait is not None:
                self._block(wait, f"{self.label}: this token's rate limit is used up (x-ratelimit-remaining 0)")

    def _refusal(self, answer: Answer, what: str, missing: str | None) -> HttpError:
        code, message = answer.status, _message(answer.body)
        said = f": {message}" if message else ""
        if code in (403, 429):
            after = _retry_after(answer.header("retry-after"), self._now())
            used_up = _number(answer.header("x-ratelimit-remaining")) == 0
            if after is not None or used_up or code == 429 or "rate limit" in message.lower():
                wait = after if after is not None else (self._to_reset(answer) if used_up else None)
                kind = "the rate limit of this token is used up" if used_up else "a secondary rate limit was hit"
                return RateLimited(
                    self._block(
                        wait if wait is not None else SECONDARY_WAIT,
                        f"{self.label} refused {what}: {kind} (HTTP {code}{said})",
                    ),
                    code,
                )
            return HttpError(f"{self.label} does not let the token read {what} (HTTP 403{said}): {SCOPES}", code)
        if code == 401:
            return HttpError(
                f"{self.label} refused the token (HTTP 401{said}): check github.token (or FDC_GITHUB_TOKEN); "
                "an expired or revoked token must be made again",
                code,
            )
        if code == 404:
            return HttpError(missing or f"{self.label} does not know {what} (HTTP 404): check github.url", code)
        again = f", also after {answer.retries} retries" if answer.retries else ""
        return HttpError(f"{self.label} answered HTTP {code} for {what}{again}{said}", code)

    def _next(self, link: str | None, what: str) -> str | None:
        if not link:
            return None
        m = re.search(r'<([^<>\s]{1,2000})>\s*;\s*rel="?next"?', link[:8000])
        if m is None:
            return None
        if not m[1].startswith(self.api + "/"):  # never send the token anywhere else
            raise self.bad(what, "a next-page link to another address")
        return m[1]


def _etag(value: str | None) -> str | None:
    return value if value and len(value) <= 200 and value.isascii() and value.isprintable() else None


def _number(value: str | None) -> float | None:
    v = (value or "").strip()
    return float(v) if v.isdigit() and len(v) <= 12 else None


def _retry_after(value: str | None, now: datetime) -> float | None:
    if value is None:
        return None
    if (seconds := _number(value)) is not None:
        return seconds
    try:
        return (parsedate_to_datetime(value[:64]) - now).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _message(body: bytes) -> str:
    """GitHub's `{"message": ...}` as a short clean phrase (never the whole body)."""
    try:
        data = json.loads(body[:4096].decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return ""
    msg = data.get("message") if isinstance(data, dict) else None
    if not isinstance(msg, str):
        return ""
    clean = "".join(c for c in msg if c.isprintable())[:120]
    return clean.rstrip(".")
