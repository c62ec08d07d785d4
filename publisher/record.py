"""The story behind the number (CONTRACT.md "Record and events"): runs, the record, Fridays this year. Pure.

Everything here is computed from the Friday deployments the state keeps, never guessed: a run starts at a Friday
deployment's Friday (or at `tracking_start`) and ends at the next one's; the current run ends today. The
history start is not a run start (what came before it is unknown), so it opens no run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from publisher.deployment import ResultId
from publisher.friday import FridayDeploy, later, weeks_between

MAX_DATES = 500  # the Friday deployments of the latest this many Fridays are kept per source
MAX_PER_DATE = 3  # ...and at most this many deployments on one Friday (the latest started): the dates are what count
YEAR_DAYS = 365

Opened = Literal["deploy", "tracking_start"]


@dataclass(frozen=True)
class Run:
    """A stretch without a Friday deployment: `weeks` is the highest number the counter showed in it."""

    start: date
    end: date  # the next Friday deployment's Friday, or today for the current run
    weeks: int
    current: bool
    opened_by: Opened


@dataclass(frozen=True)
class Record:
    """The longest run; `until` is None while the current run holds it."""

    weeks: int
    start: date
    until: date | None

    def to_json(self) -> dict[str, Any]:
        return {"weeks": self.weeks, "from": self.start.isoformat(), "until": self.until and self.until.isoformat()}


@dataclass(frozen=True)
class Story:
    """What `<prefix>/record`, the `state` fields and `fdc history` say, computed once per refresh."""

    runs: tuple[Run, ...]
    record: Record | None
    friday_deploys_last_365_days: int
    fridays: tuple[FridayDeploy, ...]  # the counted ones (on or after tracking_start), oldest first


def _order(f: FridayDeploy) -> tuple[date, str, str]:
    return f.friday, f.deployment.started.isoformat(), repr(f.deployment.key)


def remember(kept: Iterable[FridayDeploy], found: Iterable[FridayDeploy]) -> tuple[FridayDeploy, ...]:
    """`kept` with `found` taken in, one entry per (source, id), bounded; oldest first.

    The same result read again keeps its latest Friday (`later`): a result seen running into Friday stays a
    Friday deployment. The bound drops the oldest Fridays first, and keeps few deployments per Friday, so the
    dates (what runs and counts are made of) reach back as far as possible.
    """
    by_key: dict[tuple[str, ResultId], FridayDeploy] = {}
    for f in (*kept, *found):
        key = f.deployment.key
        chosen = later(by_key.get(key), f)
        assert chosen is not None
        by_key[key] = chosen
    newest_first = sorted(by_key.values(), key=_order, reverse=True)
    out: list[FridayDeploy] = []
    per_date: dict[date, int] = {}
    for f in newest_first:
        if f.friday not in per_date and len(per_date) >= MAX_DATES:
            continue
        if per_date.get(f.friday, 0) >= MAX_PER_DATE:
            continue
        per_date[f.friday] = per_date.get(f.friday, 0) + 1
        out.append(f)
    return tuple(reversed(out))


def counted(fridays: Iterable[FridayDeploy], tracking_start: date | None) -> tuple[FridayDeploy, ...]:
    """The Friday deployments the rule counts (those before tracking_start are ignored), oldest first."""
    return tuple(sorted((f for f in fridays if tracking_start is None or f.friday >= tracking_start), key=_order))


def runs(dates: Iterable[date], tracking_start: date | None, today: date) -> tuple[Run, ...]:
    """The runs between the given Friday dates (and from tracking_start), oldest first; the last ends today."""
    fridays = {d for d in dates if tracking_start is None or d >= tracking_start}
    starts: list[tuple[date, Opened]] = [(d, "deploy") for d in sorted(fridays)]
    if tracking_start is not None and tracking_start not in fridays:
        starts.insert(0, (tracking_start, "tracking_start"))
    out = []
    for i, (start, opened_by) in enumerate(starts):
        current = i == len(starts) - 1
        end = today if current else starts[i + 1][0]
        out.append(Run(start, end, weeks_between(start, end), current, opened_by))
    return tuple(out)


def record(all_runs: Iterable[Run]) -> Record | None:
    """The longest run (the earlier one on a tie); None when there is no run yet."""
    best: Run | None = None
    for run in all_runs:  # oldest first: only a strictly longer run takes the record
        if best is None or run.weeks > best.weeks:
            best = run
    if best is None:
        return None
    return Record(best.weeks, best.start, None if best.current else best.end)


def last_365_days(dates: Iterable[date], today: date) -> int:
    """Distinct Friday dates with a Friday deployment in the 365 days ending today."""
    first = today - timedelta(days=YEAR_DAYS - 1)
    return len({d for d in dates if first <= d <= today})


def story(fridays: Iterable[FridayDeploy], tracking_start: date | None, today: date) -> Story:
    """Runs, record and the year's count from the Friday deployments seen."""
    kept = counted(fridays, tracking_start)
    dates = [f.friday for f in kept]
    all_runs = runs(dates, tracking_start, today)
    return Story(all_runs, record(all_runs), last_365_days(dates, today), kept)
