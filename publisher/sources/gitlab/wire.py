"""GitLab's wire forms → plain values and Deployment. Pure: no HTTP here, every field checked for type and size.

The rule (CONTRACT "Sources"): a deployment ran when its status is running, success or failed, or canceled when
its job (`deployable`) has a `started_at`. created and blocked are waiting (they may still run); skipped and a
canceled one whose job never started will never run. It started at the job's `started_at`, else at the
deployment's own `created_at` (`deployable` is null for deployments made through the API); it finished at the
job's `finished_at`, else at `updated_at` once the status is final.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING, Deployment
from publisher.fields import WireError, identifier, obj, shown
from publisher.times import TimeError, parse_time

MAX_NAME = 255  # GitLab's own limit on names and paths; longer text is not GitLab's
MAX_URL = 2000
FINAL = frozenset({"success", "failed", "canceled", "skipped"})
STATUSES = frozenset({"created", "running", "success", "failed", "canceled", "blocked", "skipped"})
_STATE = {"success": "SUCCESS", "failed": "FAILED", "canceled": "FAILED"}


@dataclass(frozen=True)
class Project:
    id: int
    path: str  # path_with_namespace
    web_url: str


@dataclass(frozen=True)
class Env:
    id: int
    name: str
    tier: str | None


@dataclass(frozen=True)
class Item:
    """One deployment as read: the neutral Deployment plus what ordering and change detection need."""

    dep: Deployment
    env_id: int
    updated: datetime


def text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME or (not empty and not value.strip()):
        raise WireError(f"{what} {shown(value)} is not a name")
    return value


def web_url(value: Any, what: str) -> str | None:
    """A link for people: only http(s), bounded; anything else is dropped rather than published."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL or not re.match(r"https?://[^\s]+$", value):
        raise WireError(f"{what} {shown(value)} is not a web address")
    return value


def moment(value: Any, what: str) -> datetime:
    try:
        return parse_time(value)
    except TimeError as e:
        raise WireError(f"{what}: {e}") from None


def project(item: Any) -> Project:
    p = obj(item, "a project")
    pid = identifier(p.get("id"), "project id")
    url = web_url(p.get("web_url"), f"web_url of project {pid}")
    return Project(pid, text(p.get("path_with_namespace"), f"path_with_namespace of project {pid}"), url or "")


def environment(item: Any) -> Env:
    e = obj(item, "an environment")
    eid = identifier(e.get("id"), "environment id")
    tier = e.get("tier")
    return Env(eid, text(e.get("name"), f"name of environment {eid}"), None if tier is None else text(tier, "tier"))


def lifecycle(status: str, job_started: datetime | None) -> str:
    if status == "running":
        return RUNNING
    if status in ("success", "failed") or (status == "canceled" and job_started is not None):
        return RAN
    if status in ("created", "blocked"):
        return WAITING
    return NOT_RUN  # skipped, or canceled before its job started


def version(d: dict[str, Any], did: int) -> str:
    """The short sha GitLab shows (8 hex digits), else the ref."""
    sha = d.get("sha")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", sha)):
        raise WireError(f"sha of deployment {did} {shown(sha)} is not a commit")
    ref = d.get("ref")
    return sha[:8] if sha else "" if ref is None else text(ref, f"ref of deployment {did}", empty=True)


def deployment(item: Any, *, proj: Project, env_key: str | None, base_url: str) -> Item:
    """One item of `/projects/:id/deployments`; `env_key` None: take the environment from the item itself."""
    d = obj(item, "a deployment")
    did = identifier(d.get("id"), "deployment id")
    status = d.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise WireError(f"status of deployment {did} {shown(status)} is not a deployment status")
    env = environment(d.get("environment"))
    created = moment(d.get("created_at"), f"created_at of deployment {did}")
    updated = moment(d.get("updated_at"), f"updated_at of deployment {did}")
    job = d.get("deployable")
    started_job = finished_job = url = None
    if job is not None:
        job = obj(job, f"deployable of deployment {did}")
        if job.get("started_at") is not None:
            started_job = moment(job["started_at"], f"deployable.started_at of deployment {did}")
        if job.get("finished_at") is not None:
            finished_job = moment(job["finished_at"], f"deployable.finished_at of deployment {did}")
        url = web_url(job.get("web_url"), f"deployable.web_url of deployment {did}")
    life = lifecycle(status, started_job)
    started = started_job or created
    finished = None if life == RUNNING else finished_job or (updated if status in FINAL else None)
    if finished is not None and finished < started:  # a clock quirk between GitLab's processes: never negative
        finished = started
    key = env_key or f"{proj.id}:{env.id}"
    page = url or f"{(proj.web_url or base_url + '/' + proj.path).rstrip('/')}/-/environments/{env.id}"
    dep = Deployment(
        source="gitlab",
        result_id=did,
        environment_key=key,
        project=proj.path,
        environment=env.name,
        version=version(d, did),
        state=_STATE.get(status, "UNKNOWN"),
        lifecycle=life,
        started=started,
        finished=finished if life != WAITING else None,
        url=page,
    )
    return Item(dep, env.id, updated)
