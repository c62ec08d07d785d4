"""When the publisher says "someone deployed on Friday" on `<prefix>/events` (CONTRACT.md "Record and events"). Pure.

An event is news, not state: it is sent once, for a Friday deployment first seen by a running service after its
first poll, and only when it resets the count. So the decision compares the state before and after a change:
history read at start, on a restart or by a source's first good read is not news, and neither is a known result
read again. Sending is the service's thin step.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment
from publisher.friday import FridayDeploy, count, weeks_between
from publisher.record import counted
from publisher.report import deployment_json
from publisher.state import State

EVENT = "friday_deploy"


@dataclass(frozen=True)
class FridayEvent:
    """One Friday deployment that reset the count; `weeks_before` is None when there was no number before."""

    weeks_before: int | None
    deployment: Deployment

    def payload(self, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
        """The JSON of `<prefix>/events`; `event_type` too, which Home Assistant's MQTT event entity reads."""
        return {
            "event": EVENT,
            "event_type": EVENT,
            "weeks_before": self.weeks_before,
            "at": now.astimezone(tz).isoformat(timespec="seconds"),
            "deployment": deployment_json(self.deployment, tz),
        }


def decide(
    old: State,
    new: State,
    *,
    tracking_start: date | None,
    today: date,
    first_poll: bool,
    quiet: Collection[str] = (),
) -> list[FridayEvent]:
    """The events a change from `old` to `new` makes, oldest first.

    `first_poll`: the service's first poll (everything it finds is history). `quiet`: sources read well for the
    first time in this change (a source that was down at start: its history is not news either).
    A new Friday deployment resets the count when its Friday is later than the day the count ran from, or when
    it falls in the week the counter already shows 0 (another deploy that Friday: still news, weeks_before 0).
    """
    if first_poll:
        return []
    known = {f.deployment.key for f in old.fridays}
    fresh = [
        f
        for f in counted(new.fridays, tracking_start)
        if f.deployment.key not in known and f.deployment.source not in quiet
    ]
    before = count(old.best, old.history_start, tracking_start, today)
    since = before.counted_from if before is not None else None
    out: list[FridayEvent] = []
    for f in fresh:  # oldest first: two found at once reset the count one after the other
        if not _resets(f, since, today):
            continue
        out.append(FridayEvent(None if since is None else weeks_between(since, today), f.deployment))
        since = f.friday if since is None else max(since, f.friday)
    return out


def _resets(f: FridayDeploy, since: date | None, today: date) -> bool:
    if since is None or f.friday > since:
        return True
    return f.friday == since and weeks_between(since, today) == 0
