"""A thin adapter over Bamboo's deploy REST API (requests + urllib3 Retry). Answers in plain data.

Every failure becomes a BambooError whose message is a sentence naming the URL and what to check; the
token or password never appears in it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from publisher.deployment import Deployment
from publisher.source import SourceError
from publisher.state import EnvInfo
from publisher.wire import WireError, parse_result

log = logging.getLogger("fdc.bamboo")


class BambooError(SourceError):
    """Bamboo could not be read; `str()` is a sentence for people, `status` the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BambooAuth:
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"BambooAuth(token={'***' if self.token else None}, username={self.username!r})"

    @property
    def who(self) -> str:
        return "the personal access token" if self.token else f"user {self.username!r}"

    @property
    def fix(self) -> str:
        if self.token:
            return "check bamboo.token (or FDC_BAMBOO_TOKEN)"
        return "check bamboo.username and bamboo.password (or FDC_BAMBOO_USERNAME / FDC_BAMBOO_PASSWORD)"


@dataclass
class Traffic:
    """Requests and response bytes, for logs and benchmarks."""

    requests: int = 0
    bytes: int = 0


def make_retry(total: int = 4, backoff: float = 0.5) -> Retry:
    """Connection errors, 429 (honouring Retry-After) and 5xx, with exponential backoff."""
    return Retry(
        total=total,
        connect=total,
        read=2,
        status=total,
        backoff_factor=backoff,
        backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),  # our only POST (dashboard/status) is a read
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class BambooClient:
    """One requests.Session for one Bamboo server, safe to share between a few reader threads."""

    def __init__(
        self,
        url: str,
        auth: BambooAuth,
        *,
        verify: bool | str = True,
        timeout: float = 10.0,
        retry: Retry | None = None,
        pool_size: int = 8,
    ) -> None:
        self.url = url.rstrip("/")
        self.api = f"{self.url}/rest/api/latest"
        self.auth = auth
        self.timeout = timeout
        self.traffic = Traffic()
        self._lock = threading.Lock()
        self.status_endpoint = True  # POST deploy/dashboard/status; switched off when the server lacks it
        s = requests.Session()
        s.headers.update({"Accept": "application/json", "User-Agent": "friday-deploy-counter"})
        if auth.token:
            s.headers["Authorization"] = f"Bearer {auth.token}"
        elif auth.username is not None:
            s.auth = (auth.username, auth.password or "")
        s.verify = verify
        adapter = HTTPAdapter(max_retries=retry or make_retry(), pool_connections=2, pool_maxsize=pool_size)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        self.session = s

    def close(self) -> None:
        self.session.close()

    # --- transport ------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        url = f"{self.api}/{path}"
        try:
            r = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.exceptions.SSLError:
            raise BambooError(
                f"TLS verification failed for Bamboo at {self.url}: set bamboo.verify to the path of your CA "
                "bundle (or false to skip verification)"
            ) from None
        except requests.exceptions.RetryError as e:
            raise BambooError(f"Bamboo at {self.url} kept failing for {what} after retries ({_reason(e)})") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
            raise BambooError(
                f"cannot reach Bamboo at {self.url} ({_reason(e)}): check bamboo.url and the network"
            ) from None
        with self._lock:
            self.traffic.requests += 1 + _retries(r)
            self.traffic.bytes += len(r.content)
        self._raise_for_status(r, what)
        try:
            return r.json()
        except ValueError:
            ctype = r.headers.get("Content-Type", "no content type").split(";")[0]
            raise BambooError(
                f"Bamboo at {self.url} answered {what} with HTTP {r.status_code} and {ctype} instead of JSON "
                f"({url}): a login page or a proxy error? Check bamboo.url"
            ) from None

    def _raise_for_status(self, r: requests.Response, what: str) -> None:
        code = r.status_code
        if code < 400:
            return
        if code == 401:
            raise BambooError(f"Bamboo at {self.url} refused {self.auth.who}: {self.auth.fix}", code)
        if code == 403:
            raise BambooError(
                f"Bamboo at {self.url} does not let {self.auth.who} view {what} (HTTP 403): grant it view "
                "permission, or narrow bamboo.projects / bamboo.environments",
                code,
            )
        if code == 404:
            raise BambooError(
                f"Bamboo at {self.url} does not know {what} (HTTP 404): check bamboo.url (the address you open "
                "Bamboo at, with its context path if any)",
                code,
            )
        tries = _retries(r)
        again = f", also after {tries} retr{'y' if tries == 1 else 'ies'}" if tries else ""
        raise BambooError(f"Bamboo at {self.url} answered HTTP {code} for {what}{again}", code)

    # --- API ------------------------------------------------------------------------------------------------
    def environments(self) -> list[EnvInfo]:
        """Every deployment project's environments (`deploy/project/all`)."""
        data = self._call("GET", "deploy/project/all", "the list of deployment projects")
        if not isinstance(data, list):
            raise BambooError(f"Bamboo at {self.url} sent something other than a list of deployment projects")
        envs = []
        for project in data:
            for env in project.get("environments") or []:
                envs.append(EnvInfo(int(env["id"]), str(project.get("name", "")), str(env.get("name", ""))))
        return envs

    def latest(self, env_ids: list[int]) -> dict[int, int | None]:
        """The newest result id of each environment, in one request (None: never deployed)."""
        if not env_ids:
            return {}
        if self.status_endpoint:
            try:
                data = self._call(
                    "POST", "deploy/dashboard/status", "the environments' latest results", json={"ids": env_ids}
                )
                out: dict[int, int | None] = dict.fromkeys(env_ids)
                for item in data if isinstance(data, list) else []:
                    env_id = item.get("environmentId")
                    if env_id is not None and int(env_id) in out and item.get("deploymentResultId") is not None:
                        out[int(env_id)] = int(item["deploymentResultId"])
                return out
            except BambooError as e:
                if e.status not in (404, 405, 415):
                    raise
                log.info("Bamboo at %s has no POST deploy/dashboard/status: using GET deploy/dashboard", self.url)
                self.status_endpoint = False
        data = self._call("GET", "deploy/dashboard", "the deployment dashboard")
        wanted = set(env_ids)
        found: dict[int, int | None] = dict.fromkeys(env_ids)
        for project in data if isinstance(data, list) else []:
            for status in project.get("environmentStatuses") or []:
                env_id = int((status.get("environment") or {}).get("id", -1))
                result = status.get("deploymentResult")
                if env_id in wanted and result and result.get("id") is not None:
                    found[env_id] = int(result["id"])
        return found

    def results(self, env: EnvInfo, page_sizes: Iterator[int]) -> Iterator[list[Deployment]]:
        """Pages of an environment's results, newest first, until Bamboo has no more (or the caller stops)."""
        start = 0
        for size in page_sizes:
            params = {"start-index": start, "max-result": size, "max-results": size}
            what = f"the results of environment {env.name!r} (id {env.id}) of project {env.project!r}"
            data = self._call("GET", f"deploy/environment/{env.id}/results", what, params=params)
            items = data.get("results") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise BambooError(f"Bamboo at {self.url} sent no 'results' list for {what}")
            try:
                page = [
                    parse_result(i, environment_id=env.id, project=env.project, environment=env.name, base_url=self.url)
                    for i in items
                ]
            except WireError as e:
                raise BambooError(f"Bamboo at {self.url} sent a result of {what} that cannot be read: {e}") from None
            yield page
            page_size = data.get("max-result") if isinstance(data.get("max-result"), int) else size
            if not items or len(items) < min(size, page_size):
                return
            start += len(items)


def _reason(e: Exception) -> str:
    text = str(e.args[0] if e.args else e)
    for marker in ("Caused by ", "Max retries exceeded"):
        if marker in text:
            text = text.split(marker, 1)[-1]
    return text.strip(" ()'\"")[:200] or type(e).__name__


def _retries(r: requests.Response) -> int:
    history = getattr(getattr(r.raw, "retries", None), "history", ())
    return len(history or ())
