"""Pushed deployments (CONTRACT.md "Pushed deployments"): the `webhooks:` section, the body of
`POST /api/v1/deployments`, and the fold of pushed results into their own part of the state. Pure.

Pushed results cannot be read again, so their part keeps them (the last MAX_KEPT received, in its memo, as
`Deployment` dicts) and the best Friday deployment among them; the rule is the one every source feeds.
Running ones are re-evaluated as time passes (`refold`), so a deploy running into Friday becomes a Friday
deployment without a new push.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import voluptuous as vol

from common.webserver import listen
from publisher import schema
from publisher.deployment import RAN, RUNNING, Deployment, parse_state
from publisher.friday import FridayDeploy, friday_of, later, local_date
from publisher.plausible import implausible
from publisher.source import SourceSpec, full_match, register
from publisher.state import SourceState
from publisher.times import TimeError, parse_time

NAME = "push"
MAX_BODY = 1024 * 1024  # bytes; larger bodies are refused with 413
MAX_KEPT = 1000  # pushed results kept in the state (the best one is kept apart, whatever its age)
MAX_TEXT = 256  # longest id, project, environment or version taken
MAX_URL = 2048
FIELDS = ("id", "project", "environment", "started", "finished", "version", "state", "url")
Merge = Callable[[Deployment | None, Deployment], Deployment]


class Invalid(ValueError):
    """A pushed body that cannot be taken; `str()` is the sentence for the 400 answer, naming the field."""


@dataclass(frozen=True)
class Rules:
    tz: ZoneInfo
    days: frozenset[int]
    now: datetime
    environments: tuple[str, ...]
    projects: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """The answer to one push: counted (matched and taken into the count, Friday or not), or why not."""

    counted: bool
    reason: str | None = None
    weeks: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"counted": self.counted, "weeks": self.weeks}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


# --- the body of POST /api/v1/deployments ------------------------------------------------------------------


def _text(body: Mapping[str, Any], key: str, required: bool, limit: int = MAX_TEXT) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise Invalid(f"{key} is missing: give it as a non-empty string")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string, not {_kind(value)}")
    if len(value) > limit:
        raise Invalid(f"{key} is longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Invalid(f"{key} has control characters in it")
    return value


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _time(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"{key} must be an ISO 8601 time with an offset or epoch milliseconds, not {_kind(value)}")
    try:
        moment = parse_time(value.strip() if isinstance(value, str) else value, naive_tz=None)
    except TimeError as e:
        raise Invalid(f"{key}: {e}: use ISO 8601 with an offset (2026-11-06T16:42:10+01:00) or epoch ms") from None
    if moment.tzinfo is None:
        raise Invalid(f"{key} has no UTC offset: add one (2026-11-06T16:42:10+01:00 or ...Z)")
    return moment


def stable_id(project: str, environment: str, started: datetime) -> str:
    """The id `fdc push` makes without --id: the same for the same project, environment and start."""
    text = "\x1f".join([project, environment, started.astimezone(UTC).isoformat()])
    return "fdc-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def environment_key(project: str, environment: str) -> str:
    return hashlib.sha256(f"{project}\x1f{environment}".encode()).hexdigest()[:12]


def parse_body(body: Any) -> Deployment:
    """A pushed deployment from the decoded JSON body, or Invalid with a sentence naming the field."""
    if not isinstance(body, dict):
        raise Invalid(f"the body must be a JSON object with id, project, environment and started, not {_kind(body)}")
    unknown = sorted(str(k)[:40] for k in body if k not in FIELDS)
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    rid = _text(body, "id", True)
    project, environment = _text(body, "project", True), _text(body, "environment", True)
    started, finished = _time(body, "started"), _time(body, "finished")
    assert rid is not None and project is not None and environment is not None
    if started is None:
        raise Invalid("started is missing: give it as ISO 8601 with an offset or epoch milliseconds")
    if finished is not None and finished < started:
        raise Invalid("finished is before started")
    try:
        state = parse_state(body.get("state") if body.get("state") is not None else "SUCCESS")
    except ValueError as e:
        raise Invalid(f"state: {e} (use SUCCESS, FAILED or UNKNOWN)") from None
    return Deployment(
        source=NAME,
        result_id=rid,
        environment_key=environment_key(project, environment),
        project=project,
        environment=environment,
        version=_text(body, "version", False) or "",
        state=state if finished is not None or body.get("state") is not None else "UNKNOWN",
        lifecycle=RAN if finished is not None else RUNNING,
        started=started,
        finished=finished,
        url=_text(body, "url", False, MAX_URL),
    )


def times_problem(dep: Deployment, now: datetime) -> str | None:
    """Why the deployment's times cannot be true (future, before 2000), as a 400 sentence, or None."""
    why = implausible(dep, now)
    return None if why is None else f"{'finished' if ' finished ' in why else 'started'}: {why}"


# --- the fold ----------------------------------------------------------------------------------------------


def matches(dep: Deployment, rules: Rules, also: tuple[str, ...] = ()) -> str | None:
    """None when the deployment's project and environment match `webhooks:`, else the reason it is ignored.

    `also` are more names the environment answers to (a GitLab environment of tier `production`).
    """
    if not full_match(rules.projects, dep.project):
        return f"project {dep.project!r} does not match webhooks.projects {list(rules.projects)}"
    if not any(full_match(rules.environments, name) for name in (dep.environment, *also)):
        return f"environment {dep.environment!r} does not match webhooks.environments {list(rules.environments)}"
    return None


def _kept(part: SourceState) -> list[dict[str, Any]]:
    items = part.memo.get("deployments")
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def _load(item: dict[str, Any]) -> Deployment | None:
    try:
        return Deployment.from_dict(item)
    except (KeyError, TypeError, ValueError):  # a hand-edited state file: that entry is dropped, not the part
        return None


def _same(item: dict[str, Any], dep: Deployment) -> bool:
    return item.get("source") == dep.source and item.get("result_id") == dep.result_id


def _friday(dep: Deployment, rules: Rules) -> FridayDeploy | None:
    day = friday_of(dep, rules.tz, rules.days, rules.now)
    return None if day is None else FridayDeploy(day, dep)


def find(part: SourceState, dep: Deployment) -> Deployment | None:
    """The kept result with the same (source, id), if any."""
    return next((d for d in map(_load, (i for i in _kept(part) if _same(i, dep))) if d is not None), None)


def fold(
    part: SourceState, dep: Deployment, rules: Rules, merge: Merge | None = None, also: tuple[str, ...] = ()
) -> tuple[SourceState, Verdict]:
    """The part with `dep` taken in (the same (source, id) again updates it), and the verdict for the answer."""
    if (why := matches(dep, rules, also)) is not None:
        return part, Verdict(False, why)
    kept = _kept(part)
    old = find(part, dep)
    new = merge(old, dep) if merge is not None else dep
    if not new.ran:
        return part, Verdict(False, "it has not run (yet): only deployments that ran or are running count")
    items = [*(i for i in kept if not _same(i, new)), new.to_dict()][-MAX_KEPT:]
    start = local_date(new.started, rules.tz)
    history = start if part.history_start is None else min(part.history_start, start)
    best = later(part.best, _friday(new, rules))
    return replace(part, best=best, history_start=history, memo={**part.memo, "deployments": items}), Verdict(True)


def refold(part: SourceState, rules: Rules) -> SourceState:
    """The part with its running results evaluated at `rules.now` (one running into Friday becomes a Friday one)."""
    best = part.best
    for item in _kept(part):
        if item.get("finished") is None and (dep := _load(item)) is not None and dep.ran:
            best = later(best, _friday(dep, rules))
    return part if best == part.best else replace(part, best=best)


# --- the `webhooks:` section -------------------------------------------------------------------------------

SECRETS = ("token", "github_secret", "gitlab_token", "bamboo_token")


def _check(w: Mapping[str, Any]) -> list[str]:
    if any(w.get(k) for k in SECRETS):
        return []
    return [
        "webhooks: no token: set at least one of webhooks.token (FDC_WEBHOOK_TOKEN), webhooks.github_secret "
        "(FDC_GITHUB_WEBHOOK_SECRET), webhooks.gitlab_token (FDC_GITLAB_WEBHOOK_TOKEN) or webhooks.bamboo_token "
        "(FDC_BAMBOO_WEBHOOK_TOKEN)"
    ]


def _not_polled(section: Mapping[str, Any], ctx: Any) -> Any:
    raise TypeError("the push receiver is not a polled source (publisher/receiver.py serves it)")


def rules_for(section: Mapping[str, Any], tz: ZoneInfo, days: frozenset[int], now: datetime) -> Rules:
    return Rules(tz, days, now, tuple(section["environments"]), tuple(section["projects"]))


SPEC = register(
    SourceSpec(
        name=NAME,
        order=50,
        polled=False,
        schema={
            vol.Optional("listen", default="127.0.0.1:8080"): listen,
            **{vol.Optional(key): schema.secret for key in SECRETS},
            **schema.PATTERNS,
        },
        env={
            "FDC_WEBHOOK_TOKEN": ("webhooks", "token"),
            "FDC_GITHUB_WEBHOOK_SECRET": ("webhooks", "github_secret"),
            "FDC_GITLAB_WEBHOOK_TOKEN": ("webhooks", "gitlab_token"),
            "FDC_BAMBOO_WEBHOOK_TOKEN": ("webhooks", "bamboo_token"),
        },
        check=_check,
        fingerprint=lambda w: [w["environments"], w["projects"]],
        secrets=lambda w: [w.get(k) for k in SECRETS],
        summary=lambda w: f"pushed deployments on http://{w['listen']} (environments {w['environments']})",
        build=_not_polled,
        section="webhooks",
    )
)
