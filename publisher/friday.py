"""The rule that makes the number (CONTRACT.md, "The number"). Pure functions of data and a clock value.

A deployment is a Friday deployment when any instant from its start to its finish (to *now* while it
runs) falls on a counted weekday in the configured timezone; its Friday is the latest such local date.
weeks = (today − that Friday).days // 7, so the count never depends on the time of day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Since = Literal["deploy", "history_start", "tracking_start"]


@dataclass(frozen=True)
class FridayDeploy:
    """A deployment that touched a counted weekday, and the latest such local date (its "Friday")."""

    friday: date
    deployment: Deployment


@dataclass(frozen=True)
class Count:
    """The published number and what it counts from."""

    weeks: int
    counted_from: date
    since: Since
    deployment: Deployment | None  # set when since == "deploy"


def weekday_numbers(days: list[str] | tuple[str, ...]) -> frozenset[int]:
    """["friday"] → {4} (Monday is 0, as in date.weekday())."""
    return frozenset(WEEKDAYS.index(d.lower()) for d in days)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def friday_of(dep: Deployment, tz: ZoneInfo, days: frozenset[int], now: datetime) -> date | None:
    """The latest counted-weekday local date the deployment touched, or None (also for runs that never ran)."""
    if not dep.ran:
        return None
    end_moment = dep.finished or now
    if end_moment < dep.started:  # clock skew between the source and us: the start alone is what we know
        end_moment = dep.started
    first, last = local_date(dep.started, tz), local_date(end_moment, tz)
    day = last
    for _ in range(7):  # any 7 consecutive dates cover every weekday
        if day < first:
            return None
        if day.weekday() in days:
            return day
        day -= timedelta(days=1)
    return None


def weeks_between(since: date, today: date) -> int:
    """Whole weeks from `since` to `today`; 0 if `since` is in the future (a clock ahead of ours)."""
    return max(0, (today - since).days // 7)


def later(a: FridayDeploy | None, b: FridayDeploy | None) -> FridayDeploy | None:
    """The Friday deployment that sets the count: the later Friday; on a tie, the later start.

    The same result read again (it was running) is taken from `b`, the fresher read.
    """
    if a is None:
        return b
    if b is None:
        return a
    if a.deployment.key == b.deployment.key:
        return b if b.friday >= a.friday else a
    return a if (a.friday, a.deployment.started) >= (b.friday, b.deployment.started) else b


def count(
    best: FridayDeploy | None, history_start: date | None, tracking_start: date | None, today: date
) -> Count | None:
    """The number, or None when there is nothing to count from (no deployment ever, no tracking_start)."""
    if best is not None and (tracking_start is None or best.friday >= tracking_start):
        return Count(weeks_between(best.friday, today), best.friday, "deploy", best.deployment)
    if tracking_start is not None:
        return Count(weeks_between(tracking_start, today), tracking_start, "tracking_start", None)
    if history_start is not None:
        return Count(weeks_between(history_start, today), history_start, "history_start", None)
    return None


def next_local_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    """The next instant the local date changes (the count can go up then without any new deployment)."""
    local = now.astimezone(tz)
    tomorrow = local.date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)
