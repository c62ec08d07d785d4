"""A GitHub REST simulator over real HTTP on loopback, faithful to ../shared/source-samples (github.*).

Deployments newest first by creation, `per_page` ≤ 100 (default 30) with `Link` paging; statuses as separate
objects, newest first, each bumping its deployment's `updated_at`; ETags with 304 on `If-None-Match` (a 304
costs no rate-limit unit, everything else one); `x-ratelimit-*` headers and 403/429 rate-limit answers with
`retry-after`; 401/403/404 bodies as GitHub words them; org, user and the token's own repository listings; the
environments API (refused to a token without `repo`, like a classic repo_deployment-only token); an optional
GitHub Enterprise Server prefix `/api/v3`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.sim_http import SimServer, send

DOCS = "https://docs.github.com/rest"


@dataclass
class SimStatus:
    id: int
    state: str
    created: datetime
    log_url: str = ""


@dataclass
class SimDeployment:
    id: int
    repo: str
    environment: str
    sha: str
    ref: str
    created: datetime
    updated: datetime
    statuses: list[SimStatus] = field(default_factory=list)  # oldest first


@dataclass
class SimRepo:
    full_name: str
    private: bool = False
    environments: set[str] = field(default_factory=set)
    deployments: list[SimDeployment] = field(default_factory=list)  # oldest first


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubSim(SimServer):
    """Start with `start()`; `url` is what `github.url` is set to."""

    def __init__(self, *, token: str = "gh-token", scopes: tuple[str, ...] = ("repo_deployment",),
                 prefix: str = "", limit: int = 5000, login: str = "octocat") -> None:  # fmt: skip
        self.token, self.scopes, self.prefix, self.login = token, set(scopes), prefix, login
        self.repos: dict[str, SimRepo] = {}
        self.orgs: set[str] = set()
        self.users: set[str] = {login}
        self.limit, self.remaining, self.reset = limit, limit, 0.0  # reset: epoch seconds
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.keep_alive = True
        self.faults: list[tuple[int, dict[str, str], bytes]] = []
        self.handlers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}  # path → raw answer
        self.raw: dict[str, Any] = {}  # path → JSON served as is
        self.requests: Counter[str] = Counter()  # "GET /repos/{o}/{r}/deployments" style keys
        self.units = 0  # rate-limit units used (304s are free)
        self.not_modified = 0
        self._next_id = 1_000_000
        self._lock = threading.Lock()

    # --- data -------------------------------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_repo(self, full_name: str, *, private: bool = False, org: bool = True) -> SimRepo:
        with self._lock:
            repo = self.repos[full_name] = SimRepo(full_name, private)
            (self.orgs if org else self.users).add(full_name.split("/")[0])
            return repo

    def deploy(self, repo: str, environment: str, created: datetime, *states: tuple[str, datetime],
               sha: str | None = None, ref: str = "main", log_url: str = "") -> int:  # fmt: skip
        """A deployment created at `created` with statuses (state, time), oldest first."""
        with self._lock:
            r = self.repos[repo]
            r.environments.add(environment)
            did = self._id()
            d = SimDeployment(did, repo, environment, sha or hashlib.sha1(str(did).encode()).hexdigest(), ref,
                              created, created)  # fmt: skip
            r.deployments.append(d)
            r.deployments.sort(key=lambda x: (x.created, x.id))
        for state, when in states:
            self.status(did, state, when, log_url)
        return did

    def status(self, deployment_id: int, state: str, when: datetime, log_url: str = "") -> None:
        with self._lock:
            d = self.find(deployment_id)
            d.statuses.append(SimStatus(self._id(), state, when, log_url))
            d.updated = max(d.updated, when)

    def find(self, deployment_id: int) -> SimDeployment:
        return next(d for r in self.repos.values() for d in r.deployments if d.id == deployment_id)

    def fail_next(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"", times: int = 1) -> None:
        with self._lock:
            self.faults += [
                (status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body)
            ] * times

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.units = self.not_modified = 0

    # --- JSON -------------------------------------------------------------------------------------------------
    def _api(self) -> str:
        return self.url

    def deployment_json(self, d: SimDeployment) -> dict[str, Any]:
        base = f"{self._api()}/repos/{d.repo}"
        return {"url": f"{base}/deployments/{d.id}", "id": d.id, "node_id": f"DE_{d.id}", "sha": d.sha, "ref": d.ref,
                "task": "deploy", "payload": {}, "original_environment": d.environment, "environment": d.environment,
                "description": None, "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "created_at": _iso(d.created), "updated_at": _iso(d.updated),
                "statuses_url": f"{base}/deployments/{d.id}/statuses", "repository_url": base,
                "transient_environment": False, "production_environment": d.environment == "production",
                "performed_via_github_app": None}  # fmt: skip

    def status_json(self, d: SimDeployment, s: SimStatus) -> dict[str, Any]:
        base = f"{self._api()}/repos/{d.repo}"
        return {"url": f"{base}/deployments/{d.id}/statuses/{s.id}", "id": s.id, "node_id": f"DES_{s.id}",
                "state": s.state, "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "description": "", "environment": d.environment, "target_url": s.log_url,
                "created_at": _iso(s.created), "updated_at": _iso(s.created),
                "deployment_url": f"{base}/deployments/{d.id}", "repository_url": base, "environment_url": "",
                "log_url": s.log_url, "performed_via_github_app": None}  # fmt: skip

    # --- HTTP -------------------------------------------------------------------------------------------------
    @property
    def base_path(self) -> str:
        return self.prefix

    def _limits(self, used: bool) -> dict[str, str]:
        now = self.now().timestamp()
        if now >= self.reset:
            self.remaining, self.reset = self.limit, now + 3600
        if used:
            self.remaining -= 1
            self.units += 1
        return {"x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-used": str(self.limit - self.remaining), "x-ratelimit-reset": str(int(self.reset)),
                "x-ratelimit-resource": "core"}  # fmt: skip

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        send(h, status, body, headers)

    def _error(
        self, h: BaseHTTPRequestHandler, status: int, message: str, limits: dict[str, str], **extra: str
    ) -> None:
        body = json.dumps({"message": message, "documentation_url": DOCS, "status": str(status)}).encode()
        self._send(h, status, body, {"Content-Type": "application/json; charset=utf-8", **limits, **extra})

    def _handle(self, h: BaseHTTPRequestHandler, method: str = "GET") -> None:
        u = urlparse(h.path)
        path = u.path
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        with self._lock:
            self.requests["GET " + re.sub(r"/\d+(?=/|$)", "/{id}", path.removeprefix(self.prefix))] += 1
            fault = self.faults.pop(0) if self.faults else None
            if fault is not None:
                return self._send(h, fault[0], fault[2], fault[1])
            if not path.startswith(self.prefix + "/"):
                return self._error(h, 404, "Not Found", {})
            route = path[len(self.prefix) :]
            handler = self.handlers.get(route)
        if handler is not None:
            h.close_connection = True
            return handler(h)
        with self._lock:
            if h.headers.get("Authorization") != f"Bearer {self.token}":
                return self._error(h, 401, "Bad credentials", {}, **{"WWW-Authenticate": 'Bearer realm="GitHub"'})
            limits = self._limits(used=False)
            if self.remaining <= 0:
                return self._error(h, 403, "API rate limit exceeded for user ID 1. If you reach out to GitHub "
                                   "Support for help, please include the request ID.", limits)  # fmt: skip
            status, data, extra = self._route(route, q)
            if status != 200:
                limits = self._limits(used=True)
                return self._error(h, status, data, limits)
            body = json.dumps(data).encode()
            etag = 'W/"' + hashlib.sha256(body).hexdigest() + '"'
            if h.headers.get("If-None-Match") == etag:
                self.not_modified += 1
                return self._send(h, 304, b"", {"ETag": etag, **limits})
            limits = self._limits(used=True)
        self._send(h, 200, body, {"Content-Type": "application/json; charset=utf-8", "ETag": etag, **limits, **extra})

    def _page(self, route: str, q: dict[str, str], items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        per_page = max(1, min(int(q.get("per_page", "30")), 100))
        page = max(1, int(q.get("page", "1")))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        if page < last:
            links.append(f'<{self.url}{route}?{urlencode({**q, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.url}{route}?{urlencode({**q, "page": last})}>; rel="last"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _route(self, route: str, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if route in self.raw:
            return 200, self.raw[route], {}
        if route == "/user":
            return 200, {"login": self.login, "id": 1, "type": "User"}, {}
        m = re.fullmatch(r"/(orgs|users)/([^/]+)/repos|/user/repos", route)
        if m:
            if m[1] == "orgs" and m[2] not in self.orgs:
                return 404, "Not Found", {}
            owner = m[2] if m[1] else self.login
            repos = [r for r in self.repos.values() if r.full_name.split("/")[0].lower() == owner.lower()
                     and (not r.private or m[1] != "users")]  # fmt: skip
            if m[1] == "users" and owner not in self.users | self.orgs:
                return 404, "Not Found", {}
            return self._page(route, q, [{"id": i + 1, "full_name": r.full_name, "name": r.full_name.split("/")[1],
                                          "private": r.private} for i, r in enumerate(repos)])  # fmt: skip
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/(deployments|environments)(?:/(\d+)/statuses)?", route)
        repo = self.repos.get(m[1]) if m else None
        if m is None or repo is None:
            return 404, "Not Found", {}
        if "repo_deployment" not in self.scopes and "repo" not in self.scopes:
            return 403, "Resource not accessible by personal access token", {}
        if m[2] == "environments":
            if repo.private and "repo" not in self.scopes:
                return 404, "Not Found", {}
            envs = [{"id": i + 1, "name": n} for i, n in enumerate(sorted(repo.environments))]
            return 200, {"total_count": len(envs), "environments": envs}, {}
        if m[3] is None:
            deps = [
                d for d in reversed(repo.deployments) if "environment" not in q or d.environment == q["environment"]
            ]
            status, chunk, extra = self._page(route, q, deps)
            return status, [self.deployment_json(d) for d in chunk], extra
        d = next((d for d in repo.deployments if d.id == int(m[3])), None)
        if d is None:
            return 404, "Not Found", {}
        status, chunk, extra = self._page(route, q, list(reversed(d.statuses)))
        return status, [self.status_json(d, s) for s in chunk], extra
