"""GitHub's and GitLab's deployment webhooks → neutral `Deployment`s, their secrets checked. Pure.

A webhook's deployment and the same deployment read by a poller are one result: same source name
(`github`/`gitlab`), same id (the deployment's). One delivery is one status of it; `merge_status` folds a new
status into what earlier deliveries said, by the contract's rules for what counts (CONTRACT.md "Sources"):
started at the first status that ran, finished at the first final one, a later `inactive` undoes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING, Deployment
from publisher.push import MAX_TEXT, MAX_URL, Invalid
from publisher.times import TimeError, parse_time

MAX_ID = 2**63 - 1
_GH_LIFE = {"in_progress": RUNNING, "success": RAN, "failure": RAN, "error": RAN,
            "queued": WAITING, "pending": WAITING, "waiting": WAITING, "inactive": WAITING}  # fmt: skip
_GH_STATE = {"success": "SUCCESS", "failure": "FAILED", "error": "FAILED"}
_GL_LIFE = {"running": RUNNING, "success": RAN, "failed": RAN, "canceled": NOT_RUN,
            "created": WAITING, "blocked": WAITING, "skipped": NOT_RUN}  # fmt: skip
_GL_STATE = {"success": "SUCCESS", "failed": "FAILED", "canceled": "FAILED"}


@dataclass(frozen=True)
class Hook:
    """One delivery's deployment, and more names its environment answers to for the patterns."""

    deployment: Deployment
    also: tuple[str, ...] = ()


def constant_time_equal(expected: str | None, given: str | None) -> bool:
    """Tokens compared in constant time; no configured token matches nothing."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def github_signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` as GitHub makes it: `sha256=` + hex HMAC-SHA256(secret, raw body)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_signature_ok(secret: str | None, body: bytes, header: str | None) -> bool:
    return secret is not None and constant_time_equal(github_signature(secret, body), header)


class Seen:
    """Delivery ids already taken (GitHub's `X-GitHub-Delivery`, GitLab's event UUID), the last `size` of them."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, delivery: str) -> bool:
        return delivery in self._ids

    def add(self, delivery: str) -> None:
        self._ids[delivery] = None
        self._ids.move_to_end(delivery)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


def _obj(body: Any, key: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise Invalid(f"{key} is missing or not an object")
    return value


def _str(d: dict[str, Any], key: str, where: str, limit: int = MAX_TEXT, required: bool = True) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise Invalid(f"{where}.{key} is missing")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{where}.{key} must be a string of at most {limit} characters")
    return value


def _id(d: dict[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"{where}.{key} must be a positive integer")
    return value


def _when(d: dict[str, Any], key: str, where: str) -> datetime:
    value = _str(d, key, where)
    try:
        moment = parse_time(value, naive_tz=None)
    except TimeError as e:
        raise Invalid(f"{where}.{key}: {e}") from None
    if moment.tzinfo is None:
        raise Invalid(f"{where}.{key} has no UTC offset")
    return moment


def _repository(body: dict[str, Any], deployment: dict[str, Any]) -> tuple[str, str | None]:
    """`owner/name` and the repository's web page: from `repository`, else from the API URL of the deployment."""
    repo = body.get("repository")
    if isinstance(repo, dict) and isinstance(repo.get("full_name"), str):
        name = _str(repo, "full_name", "repository")
        assert name is not None
        return name, _str(repo, "html_url", "repository", MAX_URL, required=False)
    api = _str(deployment, "repository_url", "deployment", MAX_URL) or ""
    m = re.match(r"^(https?://[^/]+)(/api/v3)?/repos/([^/]+/[^/]+)$", api)
    if m is None:
        raise Invalid("repository.full_name is missing (and deployment.repository_url names no repository)")
    host = "https://github.com" if m.group(1) == "https://api.github.com" else m.group(1)
    return m.group(3), f"{host}/{m.group(3)}"


def github(body: Any) -> Hook:
    """A `deployment_status` delivery → the deployment as this status shows it (`merge_status` adds history)."""
    status, deployment = _obj(body, "deployment_status"), _obj(body, "deployment")
    did = _id(deployment, "id", "deployment")
    word = _str(status, "state", "deployment_status")
    if word not in _GH_LIFE:
        raise Invalid(f"deployment_status.state {str(word)[:40]!r} is not a GitHub deployment status")
    environment = _str(deployment, "environment", "deployment", required=False) or _str(
        status, "environment", "deployment_status"
    )
    project, page = _repository(body, deployment)
    at = _when(status, "created_at", "deployment_status")
    life = _GH_LIFE[word]
    url = _str(status, "log_url", "deployment_status", MAX_URL, False) or _str(
        status, "target_url", "deployment_status", MAX_URL, False
    )
    version = (
        _str(deployment, "ref", "deployment", required=False)
        or (_str(deployment, "sha", "deployment", required=False) or "")[:12]
    )
    assert environment is not None
    dep = Deployment(
        source="github",
        result_id=did,
        environment_key=f"{project}:{environment}",
        project=project,
        environment=environment,
        version=version,
        state=_GH_STATE.get(word, "UNKNOWN"),
        lifecycle=life,
        started=at,
        finished=at if life == RAN else None,
        url=url or (f"{page}/deployments" if page else None),
    )
    return Hook(dep)


def gitlab(body: Any) -> Hook:
    """A "Deployment Hook" delivery → the deployment as this status shows it."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    did = _id(body, "deployment_id", "body")
    word = _str(body, "status", "body")
    if word not in _GL_LIFE:
        raise Invalid(f"status {str(word)[:40]!r} is not a GitLab deployment status")
    project_obj = _obj(body, "project")
    project = _str(project_obj, "path_with_namespace", "project")
    environment = _str(body, "environment", "body")
    assert project is not None and environment is not None
    at = _when(body, "status_changed_at", "body")
    life = _GL_LIFE[word]
    web = _str(project_obj, "web_url", "project", MAX_URL, False)
    url = _str(body, "deployable_url", "body", MAX_URL, False) or (f"{web}/-/environments" if web else None)
    dep = Deployment(
        source="gitlab",
        result_id=did,
        environment_key=f"{project}:{environment}",
        project=project,
        environment=environment,
        version=_str(body, "short_sha", "body", required=False) or "",
        state=_GL_STATE.get(word, "UNKNOWN"),
        lifecycle=life,
        started=at,
        finished=None if life in (RUNNING, WAITING) else at,
        url=url,
    )
    return Hook(dep, ("production",) if body.get("environment_tier") == "production" else ())


def merge_status(old: Deployment | None, new: Deployment) -> Deployment:
    """What is known of a deployment after one more status: started at the first that ran, finished at the
    first final one (with its state and link); statuses that did not run change nothing, except that a
    cancel (GitLab) ends a run that was seen running."""
    if old is None or not old.ran:
        return new
    if not new.ran:
        if new.lifecycle == NOT_RUN and old.finished is None:
            return replace(old, lifecycle=RAN, state="FAILED", finished=max(old.started, new.started))
        return old
    started = min(old.started, new.started)
    finals = [d for d in (old, new) if d.finished is not None]
    if not finals:
        return replace(new, started=started, url=new.url or old.url)
    first = min(finals, key=lambda d: d.finished or d.started)
    return replace(
        new, started=started, finished=first.finished, state=first.state, lifecycle=RAN, url=first.url or new.url
    )
