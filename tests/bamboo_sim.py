"""A Bamboo deploy-API simulator over real HTTP on loopback, faithful to ../shared/bamboo-samples.

It serves `deploy/project/all`, `deploy/dashboard`, `POST deploy/dashboard/status` and
`deploy/environment/{id}/results` (newest first, `start-index` + `max-result`/`max-results`, default page 25),
with Bearer or Basic auth, either wire form (epoch ms + constant names, or ISO 8601 + display names), running
results without `finishedDate`, expiry, and injected faults (HTTP errors, Retry-After, HTML login pages).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.sim_http import SimServer, send

DISPLAY = {
    "SUCCESS": "Successful",
    "FAILED": "Failed",
    "UNKNOWN": "Unknown",
    "PENDING": "Pending",
    "QUEUED": "Queued",
    "IN_PROGRESS": "InProgress",
    "FINISHED": "Finished",
    "NOT_BUILT": "NotBuilt",
}
API = "/rest/api/latest/"


@dataclass
class SimResult:
    id: int
    env_id: int
    version: str
    started: datetime
    finished: datetime | None
    state: str = "SUCCESS"
    lifecycle: str = "FINISHED"


@dataclass
class SimEnv:
    id: int
    name: str
    project_id: int
    project: str
    results: list[SimResult] = field(default_factory=list)  # newest first by start


class BambooSim(SimServer):
    """Start with `start()`; `url` is the base URL the publisher is configured with."""

    def __init__(
        self,
        *,
        token: str | None = "sim-token",
        username: str | None = None,
        password: str | None = None,
        wire: str = "epoch",
        status_endpoint: bool = True,
        latency: float = 0.0,
        max_page: int = 1000,
        context_path: str = "",
    ) -> None:
        self.token, self.username, self.password = token, username, password
        self.wire = wire  # "epoch": epoch ms + constant names (real servers); "iso": ISO 8601 + display names
        self.status_endpoint = status_endpoint
        self.latency = latency
        self.max_page = max_page
        self.context_path = context_path
        self.envs: dict[int, SimEnv] = {}
        self.faults: list[tuple[int, dict[str, str], bytes]] = []  # served to the next requests, in order
        self.html_login = False
        self.raw: dict[str, Any] = {}  # route → JSON body served as is (e.g. a real captured response)
        # route → a function that answers on the raw socket itself: hostile bytes, trickles, stalls
        self.handlers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: Counter[str] = Counter()
        self.now: Callable[[], datetime] | None = None  # the server's clock for its Date header (None: real)
        self.bytes_sent = 0
        self._next_id = 1000
        self._lock = threading.Lock()

    # --- data -------------------------------------------------------------------------------------------
    def add_env(self, project: str, name: str, *, env_id: int | None = None, project_id: int | None = None) -> int:
        with self._lock:
            env_id = env_id or self._id()
            pid = project_id or next((e.project_id for e in self.envs.values() if e.project == project), None)
            self.envs[env_id] = SimEnv(env_id, name, pid or self._id(), project)
            return env_id

    def deploy(
        self,
        env_id: int,
        started: datetime,
        finished: datetime | None = None,
        *,
        state: str = "SUCCESS",
        lifecycle: str | None = None,
        version: str | None = None,
    ) -> int:
        """Add a result; `finished=None` with the default lifecycle means it is still running."""
        with self._lock:
            rid = self._id()
            lc = lifecycle or ("FINISHED" if finished is not None else "IN_PROGRESS")
            env = self.envs[env_id]
            env.results.append(SimResult(rid, env_id, version or f"release-{rid}", started, finished, state, lc))
            env.results.sort(key=lambda r: (r.started, r.id), reverse=True)
            return rid

    def finish(self, result_id: int, finished: datetime, state: str = "SUCCESS") -> None:
        with self._lock:
            for env in self.envs.values():
                for r in env.results:
                    if r.id == result_id:
                        r.finished, r.state, r.lifecycle = finished, state, "FINISHED"

    def expire(self, before: datetime) -> int:
        """Bamboo's global expiry: delete results that started before `before`; returns how many."""
        with self._lock:
            n = 0
            for env in self.envs.values():
                keep = [r for r in env.results if r.started >= before]
                n += len(env.results) - len(keep)
                env.results = keep
            return n

    def fail_next(
        self,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: bytes = b'{"message":"simulated failure"}',
    ) -> None:
        with self._lock:
            self.faults += [(status, headers or {"Content-Type": "application/json"}, body)] * times

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- wire forms -------------------------------------------------------------------------------------
    def _date(self, d: datetime) -> int | str:
        if self.wire == "iso":
            return d.astimezone(UTC).isoformat(timespec="milliseconds")
        return int(d.timestamp() * 1000)

    def _enum(self, v: str) -> str:
        return DISPLAY[v] if self.wire == "iso" else v

    def result_json(self, r: SimResult) -> dict[str, Any]:
        env = self.envs[r.env_id]
        ops = {
            "canView": True,
            "canEdit": True,
            "canDelete": True,
            "allowedToExecute": True,
            "canExecute": True,
            "allowedToCreateVersion": False,
            "allowedToSetVersionStatus": False,
        }
        d: dict[str, Any] = {
            "deploymentVersion": {
                "id": r.id + 500000,
                "name": r.version,
                "creationDate": self._date(r.started),
                "creatorUserName": "root",
                "items": [],
                "operations": ops,
                "creatorDisplayName": "root",
                "planBranchName": "main",
                "ageZeroPoint": self._date(r.started),
            },
            "deploymentVersionName": r.version,
            "id": r.id,
            "deploymentState": self._enum(r.state),
            "lifeCycleState": self._enum(r.lifecycle),
            "startedDate": self._date(r.started),
            "queuedDate": self._date(r.started),
            "executedDate": self._date(r.started),
            "reasonSummary": 'Manual run by <a href="http://bamboo/browse/user/root">root</a>',
            "key": {
                "key": f"{env.project_id}-{env.id}-{r.id}",
                "entityKey": {"key": f"{env.project_id}-{env.id}"},
                "resultNumber": r.id,
            },
            "agent": {
                "id": 360449,
                "name": "Default Agent",
                "type": "LOCAL",
                "active": True,
                "enabled": True,
                "busy": False,
            },
            "operations": ops,
        }
        if r.finished is not None:  # a running deployment has no finishedDate key at all
            d["finishedDate"] = self._date(r.finished)
        return d

    def _env_json(self, e: SimEnv, position: int) -> dict[str, Any]:
        return {
            "id": e.id,
            "key": {"key": f"{e.project_id}-{e.id}"},
            "name": e.name,
            "description": "",
            "deploymentProjectId": e.project_id,
            "position": position,
            "configurationState": "TASKED",
        }

    def _projects(self) -> dict[int, list[SimEnv]]:
        out: dict[int, list[SimEnv]] = {}
        for e in self.envs.values():
            out.setdefault(e.project_id, []).append(e)
        return out

    def project_all(self) -> list[dict[str, Any]]:
        return [
            {
                "id": pid,
                "oid": f"oid{pid}",
                "key": {"key": str(pid)},
                "name": envs[0].project,
                "planKey": {"key": "PLAN"},
                "description": "",
                "environments": [self._env_json(e, i) for i, e in enumerate(envs)],
            }
            for pid, envs in self._projects().items()
        ]

    def dashboard(self) -> list[dict[str, Any]]:
        out = []
        for pid, envs in self._projects().items():
            statuses = []
            for i, e in enumerate(envs):
                st: dict[str, Any] = {"environment": self._env_json(e, i)}
                if e.results:
                    st["deploymentResult"] = self.result_json(e.results[0])
                statuses.append(st)
            out.append(
                {
                    "deploymentProject": {"id": pid, "name": envs[0].project, "key": {"key": str(pid)}},
                    "environmentStatuses": statuses,
                }
            )
        return out

    def status(self, ids: list[int]) -> list[dict[str, Any]]:
        out = []
        for i in ids:
            e = self.envs.get(int(i))
            if e is None or not e.results:
                continue
            r = e.results[0]
            st = {
                "environmentId": e.id,
                "deploymentResultId": r.id,
                "deploymentVersionName": r.version,
                "deploymentState": DISPLAY[r.state],
                "lifeCycleState": DISPLAY[r.lifecycle],
                "startedDate": r.started.astimezone(UTC).isoformat(),
            }
            if r.finished:
                st["finishedDate"] = r.finished.astimezone(UTC).isoformat()
            out.append(st)
        return out

    def results_page(self, env_id: int, start: int, size: int) -> dict[str, Any] | None:
        env = self.envs.get(env_id)
        if env is None:
            return None
        size = min(size, self.max_page)
        page = env.results[start : start + size]
        return {
            "size": len(env.results),
            "start-index": start,
            "max-result": size,
            "results": [self.result_json(r) for r in page],
        }

    # --- HTTP -------------------------------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        if self.token is None and self.username is None:
            return True
        if header is None:
            return False
        if self.token is not None and header == f"Bearer {self.token}":
            return True
        if self.username is not None and header.startswith("Basic "):
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            return user == self.username and pw == self.password
        return False

    @property
    def base_path(self) -> str:
        return self.context_path

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        sent = send(h, status, body, headers)
        with self._lock:
            self.bytes_sent += sent

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        if self.latency:
            time.sleep(self.latency)
        u = urlparse(h.path)
        path = u.path
        with self._lock:
            self.requests[f"{method} {path}"] += 1
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return self._send(h, fault[0], fault[2], fault[1])
        if self.html_login:
            page = b"<html><head><title>Log in - Bamboo</title></head><body>login</body></html>"
            return self._send(h, 200, page, {"Content-Type": "text/html;charset=UTF-8"})
        if not path.startswith(self.context_path + API):
            return self._send(h, 404, b"<html>Not found</html>", {"Content-Type": "text/html"})
        if not self.authorized(h.headers.get("Authorization")):
            return self._send(
                h,
                401,
                b'{"message":"Client must be authenticated to access this resource."}',
                {"Content-Type": "application/json", "WWW-Authenticate": 'Basic realm="Bamboo"'},
            )
        route = path[len(self.context_path + API) :]
        if route in self.handlers:
            h.close_connection = True
            return self.handlers[route](h)
        q = parse_qs(u.query)
        data: Any = None
        with self._lock:
            if route in self.raw:
                data = self.raw[route]
            elif method == "GET" and route == "deploy/project/all":
                data = self.project_all()
            elif method == "GET" and route == "deploy/dashboard":
                data = self.dashboard()
            elif method == "POST" and route == "deploy/dashboard/status" and self.status_endpoint:
                length = int(h.headers.get("Content-Length", "0"))
                ids = json.loads(h.rfile.read(length) or b"{}").get("ids", [])
                data = self.status(ids)
            elif method == "GET" and route.startswith("deploy/environment/") and route.endswith("/results"):
                env_id = int(route.split("/")[2])
                size = int((q.get("max-result") or q.get("max-results") or ["25"])[0])
                data = self.results_page(env_id, int((q.get("start-index") or ["0"])[0]), size)
        if data is None:
            return self._send(h, 404, b'{"message":"not found"}', {"Content-Type": "application/json"})
        self._send(h, 200, json.dumps(data).encode(), {"Content-Type": "application/json"})
