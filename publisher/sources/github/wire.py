"""GitHub's REST wire forms → plain values and Deployment. Pure: no HTTP here, every field checked.

The rule (CONTRACT "Sources"): a deployment ran once any status is in_progress, success, failure or error; a later
`inactive` (superseded) does not undo that. It started at the first such status and finished at the first
success/failure/error. With only queued/pending/waiting it has not run yet (WAITING); `inactive` without ever
running, or waiting longer than GitHub keeps an approval open (30 days), means it never will (NOT_RUN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING, Deployment
from publisher.fields import WireError, array, identifier, obj, shown
from publisher.times import TimeError, parse_time

MAX_TEXT = 200  # names, refs and URLs longer than this are cut: they end up in MQTT payloads and the state file
MAX_WAIT = timedelta(days=30)  # GitHub Actions gives up a job waiting for approval after 30 days
STARTED = frozenset({"in_progress", "success", "failure", "error"})
FINAL = {"success": "SUCCESS", "failure": "FAILED", "error": "FAILED"}
STATES = frozenset({*STARTED, "queued", "pending", "waiting", "inactive"})
REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")  # owner/name as GitHub allows them


@dataclass(frozen=True)
class Item:
    """One entry of `GET /repos/{o}/{r}/deployments` (creation order, newest first)."""

    id: int
    created: datetime
    updated: datetime  # every status bumps it, so a deployment's start lies in [created, updated]
    version: str  # the short sha, else the ref

    @property
    def latest_start(self) -> datetime:
        return max(self.created, self.updated)


@dataclass(frozen=True)
class Status:
    id: int
    state: str
    created: datetime
    url: str | None


@dataclass(frozen=True)
class Run:
    """What a deployment's statuses say under the rule."""

    lifecycle: str
    state: str
    started: datetime
    finished: datetime | None
    url: str | None


def text(value: Any, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WireError(f"{what} {shown(value)} is not text")
    return value[:MAX_TEXT]


def moment(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise WireError(f"{what} {shown(value)} is not an ISO 8601 time")
    try:
        return parse_time(value)
    except TimeError as e:
        raise WireError(f"{what}: {e}") from None


def web_url(value: Any) -> str | None:
    """A status's log_url/target_url when it is a plausible web address (GitHub sends "" when there is none)."""
    if isinstance(value, str) and re.match(r"https?://[^\s]+$", value) and len(value) <= 2 * MAX_TEXT:
        return value
    return None


def parse_item(raw: Any) -> Item:
    d = obj(raw, "a deployment")
    dep_id = identifier(d.get("id"), "deployment id")
    sha = d.get("sha")
    ref = text(d.get("ref"), f"deployment {dep_id}: ref", required=False)
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", sha)):
        raise WireError(f"deployment {dep_id}: sha {shown(sha)} is not a commit id")
    version = sha[:7] if isinstance(sha, str) else ref
    return Item(
        dep_id,
        moment(d.get("created_at"), f"deployment {dep_id}: created_at"),
        moment(d.get("updated_at"), f"deployment {dep_id}: updated_at"),
        version,
    )


def parse_status(raw: Any) -> Status:
    d = obj(raw, "a deployment status")
    sid = identifier(d.get("id"), "status id")
    state = d.get("state")
    if not isinstance(state, str) or state not in STATES:
        raise WireError(f"status {sid}: unknown state {shown(state)}")
    url = web_url(d.get("log_url")) or web_url(d.get("target_url"))
    return Status(sid, state, moment(d.get("created_at"), f"status {sid}: created_at"), url)


def judge(item: Item, statuses: list[Status], now: datetime) -> Run:
    """The rule over a deployment's statuses (any order: they are sorted oldest first here)."""
    history = sorted(statuses, key=lambda s: (s.created, s.id))
    start = next((s for s in history if s.state in STARTED), None)
    final = next((s for s in history if s.state in FINAL), None)
    if start is None:
        gone = any(s.state == "inactive" for s in history) or now - item.created > MAX_WAIT
        return Run(NOT_RUN if gone else WAITING, "UNKNOWN", item.created, None, None)
    if final is not None:
        return Run(RAN, FINAL[final.state], start.created, final.created, final.url or start.url)
    superseded = next((s for s in history if s.state == "inactive" and s.created >= start.created), None)
    newest_url = next((s.url for s in reversed(history) if s.url), None)
    if superseded is not None:  # started, never reported an outcome, then replaced: it is not running any more
        return Run(RAN, "UNKNOWN", start.created, superseded.created, newest_url)
    return Run(RUNNING, "UNKNOWN", start.created, None, newest_url)


def aged(item: Item, run: Run, now: datetime) -> Run:
    """A remembered run whose statuses did not change: a wait GitHub has given up on is over."""
    if run.lifecycle == WAITING and now - item.created > MAX_WAIT:
        return Run(NOT_RUN, run.state, run.started, None, run.url)
    return run


def deployment(item: Item, run: Run, *, env_key: str, project: str, environment: str, page: str) -> Deployment:
    return Deployment(
        source="github",
        result_id=item.id,
        environment_key=env_key,
        project=project,
        environment=environment,
        version=item.version,
        state=run.state,
        lifecycle=run.lifecycle,
        started=run.started,
        finished=run.finished,
        url=run.url or page,
    )


# --- the memo's compact forms (JSON) ---------------------------------------------------------------------------
def item_json(i: Item) -> list[Any]:
    return [i.id, i.created.isoformat(), i.updated.isoformat(), i.version]


def item_from_json(v: Any) -> Item:
    a = array(v, "a remembered deployment")
    if len(a) != 4:
        raise WireError("a remembered deployment has the wrong length")
    return Item(
        identifier(a[0], "id"), moment(a[1], "created"), moment(a[2], "updated"), text(a[3], "version", required=False)
    )


def run_json(r: Run) -> list[Any]:
    return [r.lifecycle, r.state, r.started.isoformat(), r.finished.isoformat() if r.finished else None, r.url]


def run_from_json(v: Any) -> Run:
    a = array(v, "a remembered run")
    if len(a) != 5 or a[0] not in (RAN, RUNNING, WAITING, NOT_RUN) or a[1] not in ("SUCCESS", "FAILED", "UNKNOWN"):
        raise WireError("a remembered run is malformed")
    return Run(a[0], a[1], moment(a[2], "started"), None if a[3] is None else moment(a[3], "finished"), web_url(a[4]))
