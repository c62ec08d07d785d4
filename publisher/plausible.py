"""What a sane deployment time and a sane clock look like. Pure: the reader and the service ask, then act.

A result that starts in the future or before 2000 is a bug or a hostile answer (epoch seconds sent as
milliseconds, a year-9999 placeholder); it must never become the Friday that sets the number. A machine clock
that disagrees with the source's by days (no NTP on a Pi that was off for a month) must not publish a number
computed from the wrong "today".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from publisher.deployment import Deployment

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SKEW = timedelta(minutes=10)  # a source's clock may run a little ahead of ours
CLOCK_TOLERANCE = timedelta(days=1)  # our clock this far from the source's is wrong, not skewed


def implausible(dep: Deployment, now: datetime) -> str | None:
    """Why this result's times cannot be true, or None when they can."""
    for what, moment in (("started", dep.started), ("finished", dep.finished)):
        if moment is None:
            continue
        if moment < EARLIEST:
            return f"it {what} {_show(moment)}, before the year 2000 (epoch seconds sent as milliseconds?)"
        if moment > now + SKEW:
            return f"it {what} {_show(moment)}, in the future (this machine's clock says {_show(now)})"
    return None


def clock_problem(now: datetime, source_time: datetime | None, source: str) -> str | None:
    """A sentence when this machine's clock is obviously wrong: before 2000, or days off the source's clock."""
    if now < EARLIEST:
        return f"this machine's clock says {_show(now)}: set the clock (NTP)"
    if source_time is not None and abs(source_time - now) > CLOCK_TOLERANCE:
        return (
            f"this machine's clock says {_show(now)} but {source} says it is {_show(source_time)}: set the clock (NTP)"
        )
    return None


def _show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
