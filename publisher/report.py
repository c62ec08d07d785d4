"""What the publisher says: the `<prefix>/state` JSON and the one-line `--dry-run` sentence. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment
from publisher.friday import Count
from publisher.record import Story


def day_label(days: tuple[str, ...]) -> str:
    """("friday",) → "Friday"; ("friday", "saturday") → "Friday/Saturday"."""
    return "/".join(d.capitalize() for d in days)


def deployment_json(dep: Deployment, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "project": dep.project,
        "environment": dep.environment,
        "version": dep.version,
        "state": dep.state,
        "started": dep.started.astimezone(tz).isoformat(timespec="seconds"),
        "finished": dep.finished.astimezone(tz).isoformat(timespec="seconds") if dep.finished else None,
        "result_id": dep.result_id,
        "url": dep.url,
        "source": dep.source,
    }


def state_payload(
    count: Count | None, tz: ZoneInfo, now: datetime, source: str, error: str | None, story: Story | None = None
) -> dict[str, Any]:
    """CONTRACT.md's `<prefix>/state`; with no count yet, weeks and its explanation are null and error says why.

    `story` (publisher/record.py) adds the record (null while there is no run) and the Fridays of the last year.
    """
    return {
        "weeks": count.weeks if count else None,
        "counted_from": count.counted_from.isoformat() if count else None,
        "since": count.since if count else None,
        "last_friday_deploy": deployment_json(count.deployment, tz) if count and count.deployment else None,
        "timezone": tz.key,
        "computed_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "source": source,
        "error": error,
        "record": story.record.to_json() if story and story.record else None,
        "friday_deploys_last_365_days": story.friday_deploys_last_365_days if story else None,
    }


def _span(dep: Deployment, tz: ZoneInfo) -> str:
    start = dep.started.astimezone(tz)
    head = start.strftime("%a %Y-%m-%d %H:%M")
    if dep.finished is None:
        return f"{head}–still running"
    end = dep.finished.astimezone(tz)
    tail = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%a %Y-%m-%d %H:%M")
    return f"{head}–{tail}"


def sentence(
    count: Count | None, days: tuple[str, ...], tz: ZoneInfo, error: str | None = None, sources: str = "the sources"
) -> str:
    """The `--dry-run` line, e.g. "3 weeks since the last Friday deployment: Payments → Production, …".

    `sources` names where the history comes from ("Bamboo", "Bamboo and the deployments file").
    """
    if count is None:
        return f"No number yet: {error}" if error else "No number yet: no production deployment found"
    n = f"{count.weeks} week{'' if count.weeks == 1 else 's'}"
    label = day_label(days)
    if count.since == "deploy" and count.deployment is not None:
        d = count.deployment
        line = (
            f"{n} since the last {label} deployment: {d.project} → {d.environment}, {d.version}, "
            f"{_span(d, tz)} {tz.key} ({d.state})"
        )
        line += f" {d.url}" if d.url else ""
    elif count.since == "tracking_start":
        line = f"{n} since tracking started on {count.counted_from.isoformat()}: no {label} deployment since then"
    else:
        line = (
            f"{n} since the oldest production deployment {sources} still {'have' if ' and ' in sources else 'has'} "
            f"({count.counted_from.isoformat()}): "
            f"no {label} deployment in the history"
        )
    return f"{line} (warning: {error})" if error else line
