"""Which environments can have news, in one request per project: the source's notes kept in the state (memo).

GitLab has no conditional requests for deployments, but it filters them by `updated_at`. Every change that
matters moves a deployment's `updated_at` (it starts, it finishes, a waiting one is played or approved), so one
`GET /projects/:id/deployments?updated_after=T&order_by=updated_at&sort=desc` per project answers "what changed
since T" for all its environments at once. The reader compares each environment's marker with its frontier
(the newest result it read that had settled); the marker here is the environment's top — the deployment that
started last, of those that are not waiting — so it equals the frontier exactly when there is nothing to read:
a new deployment, or a waiting one that started, becomes the new top; a running top keeps it apart from the
frontier until it settles, so it is read every poll (which is how a deployment running into Friday is seen).

memo: {"since": {"<project id>": [ISO time, provisional?]}, "tops": {"<env key>": [id, ISO start] | null}}.
A project without `since` (first poll, new project) and an environment without a top (new environment) are
read, and their reads note both: `since` from GitLab's own clock (its Date header, else the newest `updated_at`
read) less MARGIN, so a change made while a poll runs is seen by the next one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from publisher.deployment import WAITING, Deployment, ResultId
from publisher.source import EnvInfo
from publisher.sources.gitlab.api import GitLabClient, answer_time
from publisher.sources.gitlab.order import MARGIN
from publisher.sources.gitlab.wire import Project

UNREAD = "unread"  # a marker no frontier (an integer id) equals: read this environment
CHANGE_PAGES = 3  # more changes than this many pages since the last poll: read the project's environments instead
_MISSING = object()


def project_id(env: EnvInfo) -> int:
    return int(env.key.split(":", 1)[0])


def env_id(env: EnvInfo) -> int:
    return int(env.key.split(":", 1)[1])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notes:
    """The memo, read defensively (it comes from a file) and written by reader threads under a lock."""

    def __init__(self, memo: dict[str, Any]) -> None:
        self.memo = memo
        self.lock = threading.Lock()
        for name in ("since", "tops"):
            if not isinstance(memo.get(name), dict):
                memo[name] = {}

    def since(self, pid: int) -> tuple[datetime, bool] | None:
        value = self.memo["since"].get(str(pid))
        try:
            when = datetime.fromisoformat(value[0])
            return (when, bool(value[1])) if when.tzinfo is not None else None
        except (TypeError, ValueError, IndexError, KeyError):
            return None

    def set_since(self, pid: int, when: datetime, provisional: bool) -> None:
        self.memo["since"][str(pid)] = [iso(when), provisional]

    def read_at(self, pid: int, mark: datetime) -> None:
        """A read of one of the project's environments saw GitLab's clock at `mark`: a first `since` for it."""
        with self.lock:
            old = self.since(pid)
            if old is None or (old[1] and mark - MARGIN < old[0]):
                self.set_since(pid, mark - MARGIN, True)

    def top(self, key: str) -> Any:
        """(id, start), None (nothing that ran or settled), or _MISSING (never read)."""
        if key not in self.memo["tops"]:
            return _MISSING
        value = self.memo["tops"][key]
        try:
            return None if value is None else (int(value[0]), datetime.fromisoformat(value[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            return _MISSING

    def set_top(self, key: str, dep: Deployment | None) -> None:
        with self.lock:
            self.memo["tops"][key] = None if dep is None else [dep.result_id, dep.started.isoformat()]

    def offer(self, key: str, dep: Deployment) -> None:
        """A changed deployment of the environment: the new top if it started last."""
        top = self.top(key)
        if top is _MISSING:
            return
        if top is None or (dep.started, int(dep.result_id)) > (top[1], top[0]):
            self.set_top(key, dep)

    def keep_only(self, envs: list[EnvInfo]) -> None:
        keys, pids = {e.key for e in envs}, {str(project_id(e)) for e in envs}
        self.memo["tops"] = {k: v for k, v in self.memo["tops"].items() if k in keys}
        self.memo["since"] = {k: v for k, v in self.memo["since"].items() if k in pids}


def latest(client: GitLabClient, notes: Notes, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
    """Each environment's marker (see the module docstring), one request per project in a steady poll."""
    notes.keep_only(envs)
    by_project: dict[int, list[EnvInfo]] = {}
    for e in envs:
        by_project.setdefault(project_id(e), []).append(e)
    out: dict[str, ResultId | None] = {}
    for pid, group in by_project.items():
        since = notes.since(pid)
        if since is None or not changes(client, notes, pid, group, since[0]):
            out.update(dict.fromkeys((e.key for e in group), UNREAD))
            continue
        for e in group:
            top = notes.top(e.key)
            out[e.key] = UNREAD if top is _MISSING else None if top is None else top[0]
    return out


def changes(client: GitLabClient, notes: Notes, pid: int, group: list[EnvInfo], since: datetime) -> bool:
    """Offer every deployment updated since `since` to its environment's top; False: too many, read them all."""
    proj = Project(pid, group[0].project, "")
    by_env = {env_id(e): e for e in group}
    what = f"the deployments of project {proj.path!r} updated since the last poll"
    params = {"updated_after": iso(since), "order_by": "updated_at", "sort": "desc"}
    mark: datetime | None = None
    for n, (items, answer) in enumerate(client.deployments(proj, what, params)):
        if n == 0:
            mark = answer_time(answer)  # GitLab's clock now: the next poll asks from here (less MARGIN)
        if n == CHANGE_PAGES:
            notes.memo["since"].pop(str(pid), None)  # the reads that follow note a new one
            return False
        for item in items:
            mark = item.updated if mark is None else max(mark, item.updated)
            env = by_env.get(item.env_id)
            if env is not None and item.dep.lifecycle != WAITING:
                notes.offer(env.key, item.dep)
    notes.set_since(pid, since if mark is None else max(since, mark - MARGIN), False)
    return True
