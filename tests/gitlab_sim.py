"""A GitLab REST API v4 simulator over real HTTP on loopback, faithful to ../shared/source-samples (gitlab.*).

Projects by numeric id or URL-encoded `path_with_namespace`; groups with subgroups and shared projects
(`/groups/:id/projects`, `include_subgroups`, `with_shared` defaulting to true); environments with tiers;
`/projects/:id/deployments` sorted **ascending by id unless asked otherwise**, with the `environment`,
`status`, `updated_*` and `finished_*` filters and the 400 answers for the combinations GitLab refuses;
`x-page`/`x-per-page`/`x-next-page`/`x-total` and `Link` paging (per_page ≤ 100, default 20); `deployable` null
for deployments made through the API; `PRIVATE-TOKEN` (or Bearer) auth, 403 insufficient_scope, 429 with
Retry-After, and a relative URL root. Times are whatever the test says (`now` drives the Date header).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

from tests.sim_http import SimServer, send

PRODUCTION_NAMES = ("production", "prod", "live")
SORTS = ("id", "iid", "created_at", "updated_at", "ref", "finished_at")


@dataclass
class SimJob:
    id: int
    status: str
    created: datetime
    started: datetime | None
    finished: datetime | None


@dataclass
class SimDeployment:
    id: int
    iid: int
    project_id: int
    env_id: int
    status: str
    created: datetime
    updated: datetime
    sha: str
    ref: str = "main"
    job: SimJob | None = None


@dataclass
class SimEnv:
    id: int
    project_id: int
    name: str
    tier: str


@dataclass
class SimProject:
    id: int
    path: str  # path_with_namespace
    shared_with: tuple[str, ...] = ()  # groups it is shared with (not theirs)


def _t(d: datetime | None) -> str | None:
    return None if d is None else d.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GitLabSim(SimServer):
    """Start with `start()`; `url` is what the publisher is configured with (relative URL root included)."""

    def __init__(self, *, token: str = "glpat-sim", root: str = "", scope_ok: bool = True) -> None:
        self.token, self.root, self.scope_ok = token, root, scope_ok
        self.groups: dict[str, int] = {}
        self.projects: dict[int, SimProject] = {}
        self.envs: dict[int, SimEnv] = {}
        self.deployments: dict[int, SimDeployment] = {}
        self.faults: list[tuple[int, dict[str, str], bytes]] = []
        self.handlers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}  # API route → raw answer
        self.requests: Counter[str] = Counter()
        self.log: list[str] = []  # every request's path and query, in order
        self.now: Callable[[], datetime] | None = None
        self.paging = "headers"  # "headers": x-next-page and Link; "link": Link only; "none": neither (per_page only)
        self.bytes_sent = 0
        self._ids = 100
        self._iids: dict[int, int] = {}  # per project: GitLab's iid
        self._lock = threading.Lock()

    # --- data -------------------------------------------------------------------------------------------
    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def add_project(self, path: str, shared_with: tuple[str, ...] = ()) -> int:
        with self._lock:
            parts = path.split("/")
            for i in range(1, len(parts)):
                self.groups.setdefault("/".join(parts[:i]), self._id())
            pid = self._id()
            self.projects[pid] = SimProject(pid, path, shared_with)
            return pid

    def add_env(self, project_id: int, name: str, tier: str | None = None) -> int:
        with self._lock:
            eid = self._id()
            guess = "production" if name.lower() in PRODUCTION_NAMES else "staging" if "stag" in name else "other"
            self.envs[eid] = SimEnv(eid, project_id, name, tier or guess)
            return eid

    def deploy(
        self,
        env_id: int,
        started: datetime,
        finished: datetime | None = None,
        *,
        status: str | None = None,
        created: datetime | None = None,
        api: bool = False,
        sha: str | None = None,
    ) -> int:
        """A deployment; `status` defaults to success when finished, else running. Waiting ones (created,
        blocked) have a job that has not started; `api=True` has no job (deployable null)."""
        status = status or ("success" if finished is not None else "running")
        with self._lock:
            env = self.envs[env_id]
            did = self._id()
            created = created or (started if api else started - timedelta(seconds=30))
            waiting = status in ("created", "blocked")
            updated = finished or (created if waiting else started)
            job = None
            if not api:
                job_started = None if waiting or (status in ("skipped", "canceled") and finished is None) else started
                job_status = {"created": "manual", "blocked": "manual", "running": "running"}.get(status, status)
                job = SimJob(self._id(), job_status, created, job_started, finished)
            iid = self._iids[env.project_id] = self._iids.get(env.project_id, 0) + 1
            sha = sha or hashlib.sha1(str(did).encode()).hexdigest()
            row = SimDeployment(did, iid, env.project_id, env_id, status, created, updated, sha, job=job)
            self.deployments[did] = row
            return did

    def play(self, dep_id: int, started: datetime) -> None:
        """A waiting deployment's job starts (a manual job is played, an approval arrives)."""
        with self._lock:
            d = self.deployments[dep_id]
            d.status, d.updated = "running", started
            if d.job is not None:
                d.job.status, d.job.started = "running", started

    def finish(self, dep_id: int, finished: datetime, status: str = "success") -> None:
        with self._lock:
            d = self.deployments[dep_id]
            d.status, d.updated = status, finished
            if d.job is not None:
                d.job.status, d.job.finished = status, finished

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
                  body: bytes = b'{"message":"simulated failure"}') -> None:  # fmt: skip
        with self._lock:
            self.faults += [(status, {"Content-Type": "application/json", **(headers or {})}, body)] * times

    # --- wire forms -------------------------------------------------------------------------------------
    def project_json(self, p: SimProject) -> dict[str, Any]:
        ns, name = p.path.rsplit("/", 1)
        return {"id": p.id, "name": name, "path": name, "path_with_namespace": p.path,
                "name_with_namespace": p.path.replace("/", " / "), "web_url": f"{self.url}/{p.path}",
                "default_branch": "main", "archived": False, "visibility": "private",
                "namespace": {"id": self.groups.get(ns), "full_path": ns}}  # fmt: skip

    def env_json(self, e: SimEnv) -> dict[str, Any]:
        return {"id": e.id, "name": e.name, "slug": e.name.lower().replace("/", "-"), "external_url": None,
                "state": "available", "tier": e.tier, "created_at": "2020-01-01T00:00:00.000Z",
                "updated_at": "2020-01-01T00:00:00.000Z"}  # fmt: skip

    def deployment_json(self, d: SimDeployment) -> dict[str, Any]:
        env, p = self.envs[d.env_id], self.projects[d.project_id]
        user = {"id": 1, "name": "Administrator", "username": "root", "state": "active",
                "avatar_url": "http://www.gravatar.com/avatar/e64c7d89?s=80&d=identicon",
                "web_url": f"{self.url}/root"}  # fmt: skip
        job: dict[str, Any] | None = None
        if d.job is not None:
            j = d.job
            job = {"id": j.id, "status": j.status, "stage": "deploy", "name": f"deploy {env.name}", "ref": d.ref,
                   "tag": False, "coverage": None, "allow_failure": False, "created_at": _t(j.created),
                   "started_at": _t(j.started), "finished_at": _t(j.finished),
                   "duration": (j.finished - j.started).total_seconds() if j.finished and j.started else None,
                   "web_url": f"{self.url}/{p.path}/-/jobs/{j.id}", "user": user, "runner": None,
                   "commit": {"id": d.sha, "short_id": d.sha[:8], "title": "Merge branch 'x' into 'main'"},
                   "pipeline": {"id": j.id + 7, "ref": d.ref, "sha": d.sha, "status": j.status,
                                "web_url": f"{self.url}/{p.path}/-/pipelines/{j.id + 7}"},
                   "project": {"ci_job_token_scope_enabled": False}}  # fmt: skip
        return {"id": d.id, "iid": d.iid, "ref": d.ref, "sha": d.sha, "created_at": _t(d.created),
                "updated_at": _t(d.updated), "status": d.status, "user": user,
                "environment": {"id": env.id, "name": env.name, "external_url": None}, "deployable": job}  # fmt: skip

    # --- HTTP -------------------------------------------------------------------------------------------
    @property
    def base_path(self) -> str:
        return self.root

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = send(h, status, data, {"Content-Type": "application/json", **(headers or {})})
        with self._lock:
            self.bytes_sent += sent

    def _handle(self, h: BaseHTTPRequestHandler, method: str = "GET") -> None:
        u = urlparse(h.path)
        prefix = self.root + "/api/v4/"
        with self._lock:
            self.requests[f"GET {u.path}"] += 1
            self.log.append(h.path)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return self._send(h, fault[0], fault[2], fault[1])
        if not u.path.startswith(prefix):
            return self._send(
                h, 404, b"<html><body>The page could not be found</body></html>", {"Content-Type": "text/html"}
            )
        bearer = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.token not in (h.headers.get("PRIVATE-TOKEN"), bearer):
            return self._send(h, 401, {"message": "401 Unauthorized"})
        if not self.scope_ok:
            why = "The request requires higher privileges than provided by the access token."
            return self._send(
                h, 403, {"error": "insufficient_scope", "error_description": why, "scope": "read_api api"}
            )
        route = u.path[len(prefix) :]
        if route in self.handlers:
            h.close_connection = True
            return self.handlers[route](h)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        parts = route.split("/")
        with self._lock:
            answer = self._route(parts, q)
        if answer[0] != 200:
            return self._send(h, answer[0], answer[1])
        items: list[Any] | dict[str, Any] = answer[1]
        if isinstance(items, dict):
            return self._send(h, 200, items)
        self._page(h, u.path, q, items)

    def _page(self, h: BaseHTTPRequestHandler, path: str, q: dict[str, str], items: list[Any]) -> None:
        per_page = max(1, min(100, int(q.get("per_page", "20") or 20)))
        page = max(1, int(q.get("page", "1") or 1))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = [self.deployment_json(i) if isinstance(i, SimDeployment) else i
                 for i in items[(page - 1) * per_page : page * per_page]]  # fmt: skip
        nxt = str(page + 1) if page < total_pages else ""

        def link(n: int) -> str:
            return f"{self.url.split(self.root)[0] if self.root else self.url}{path}?{urlencode({**q, 'page': n})}"

        links = [f'<{link(page + 1)}>; rel="next"'] if nxt else []
        links += [f'<{link(1)}>; rel="first"', f'<{link(total_pages)}>; rel="last"']
        headers: dict[str, str] = {"x-page": str(page), "x-per-page": str(per_page), "x-next-page": nxt,
                   "x-prev-page": str(page - 1) if page > 1 else "", "Link": ", ".join(links)}  # fmt: skip
        if len(items) <= 10_000:  # beyond that GitLab leaves the totals out
            headers |= {"x-total": str(len(items)), "x-total-pages": str(total_pages)}
        if self.paging != "headers":
            headers = {"Link": headers["Link"]} if self.paging == "link" else {}
        self._send(h, 200, chunk, headers)

    def _project(self, ref: str) -> SimProject | None:
        ref = unquote(ref)
        if ref.isdigit():
            return self.projects.get(int(ref))
        return next((p for p in self.projects.values() if p.path == ref), None)

    def _route(self, parts: list[str], q: dict[str, str]) -> tuple[int, Any]:
        if len(parts) == 3 and parts[0] == "groups" and parts[2] == "projects":
            ref = unquote(parts[1])
            group = next((g for g, gid in self.groups.items() if g == ref or str(gid) == ref), None)
            if group is None:
                return 404, {"message": "404 Group Not Found"}
            deep = q.get("include_subgroups") == "true"
            shared = q.get("with_shared", "true") == "true"
            own = [p for p in self.projects.values()
                   if p.path.rsplit("/", 1)[0] == group or (deep and p.path.startswith(group + "/"))]  # fmt: skip
            more = [p for p in self.projects.values() if shared and group in p.shared_with and p not in own]
            return 200, [self.project_json(p) for p in sorted(own + more, key=lambda p: p.id)]
        if not parts or parts[0] != "projects" or len(parts) < 2:
            return 404, {"message": "404 Not Found"}
        p = self._project(parts[1])
        if p is None:
            return 404, {"message": "404 Project Not Found"}
        if len(parts) == 2:
            return 200, self.project_json(p)
        if parts[2:] == ["environments"]:
            return 200, [self.env_json(e) for e in self.envs.values() if e.project_id == p.id]
        if parts[2:] == ["deployments"]:
            return self._deployments(p, q)
        return 404, {"message": "404 Not Found"}

    def _deployments(self, p: SimProject, q: dict[str, str]) -> tuple[int, Any]:
        order_by, sort = q.get("order_by", "id"), q.get("sort", "asc")  # GitLab's default: ascending by id
        if order_by not in SORTS:
            return 400, {"error": "order_by does not have a valid value"}
        if sort not in ("asc", "desc"):
            return 400, {"error": "sort does not have a valid value"}
        updated = "updated_after" in q or "updated_before" in q
        finished = "finished_after" in q or "finished_before" in q
        if updated and order_by != "updated_at":
            return 400, {"message": "400 Bad request - `updated_at` filter and `updated_at` sorting must be paired"}
        if finished != (order_by == "finished_at"):
            return 400, {"message": "400 Bad request - `finished_at` filter and `finished_at` sorting must be paired"}
        if finished and q.get("status") != "success":
            return 400, {
                "message": "400 Bad request - `finished_at` filter must be combined with `success` status filter."
            }
        rows = [d for d in self.deployments.values() if d.project_id == p.id]
        if "environment" in q:
            rows = [d for d in rows if self.envs[d.env_id].name == q["environment"]]
        if "status" in q:
            rows = [d for d in rows if d.status == q["status"]]
        if "updated_after" in q:
            rows = [d for d in rows if d.updated >= _when(q["updated_after"])]  # inclusive, as GitLab's gteq
        if "updated_before" in q:
            rows = [d for d in rows if d.updated <= _when(q["updated_before"])]
        desc = sort == "desc"
        if order_by == "updated_at":  # GitLab adds id desc to break ties, whatever the direction
            rows.sort(key=lambda d: d.id, reverse=True)
            rows.sort(key=lambda d: d.updated, reverse=desc)
        elif order_by == "finished_at":
            rows.sort(key=lambda d: (d.job.finished if d.job and d.job.finished else d.updated, d.id), reverse=desc)
        elif order_by == "ref":
            rows.sort(key=lambda d: (d.ref, d.id), reverse=desc)
        else:  # id, iid and created_at all follow creation
            rows.sort(key=lambda d: d.id, reverse=desc)
        return 200, rows  # rendered page by page: a deep history is not serialised whole for every request


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def encoded(path: str) -> str:
    return quote(path, safe="")
