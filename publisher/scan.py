"""Reading one environment's history, newest first, no deeper than the answer needs.

Pure: it consumes an iterator of pages (lists of Deployment) and never does I/O itself, so the stopping
rules are tested without HTTP. It relies on what Bamboo guarantees: results come newest first by start,
and one environment runs one deployment at a time, so a result ended before the next newer one started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment
from publisher.friday import FridayDeploy, friday_of, later, local_date


@dataclass(frozen=True)
class Frontier:
    """The newest result already read such that it and everything older had settled (finished/not built)."""

    result_id: int
    started: datetime


@dataclass(frozen=True)
class Rules:
    tz: ZoneInfo
    days: frozenset[int]
    now: datetime
    floor: date | None  # nothing touching a date before this can change the answer (best Friday, tracking_start)


@dataclass(frozen=True)
class EnvScan:
    best: FridayDeploy | None
    oldest_start: date | None  # local start date of the oldest result that ran, among those read
    frontier: Frontier | None
    read: int  # results looked at


def scan(pages: Iterable[list[Deployment]], rules: Rules, known: Frontier | None) -> EnvScan:
    """Walk pages newest first; stop at what was already seen, or where older results cannot matter."""
    best: FridayDeploy | None = None
    oldest: date | None = None
    frontier: Frontier | None = None  # reset by every unsettled result: only older settled ones qualify
    seen: set[int] = set()
    read = 0
    floor = rules.floor
    for page in pages:
        stop = False
        for dep in page:
            if dep.result_id in seen:  # a new deployment shifted the pages while we read them
                continue
            seen.add(dep.result_id)
            if known is not None and (dep.result_id == known.result_id or dep.started < known.started):
                stop = True
                break
            read += 1
            if not dep.settled:
                frontier = None
            elif frontier is None:
                frontier = Frontier(dep.result_id, dep.started)
            if dep.ran:
                start_date = local_date(dep.started, rules.tz)
                oldest = start_date if oldest is None else min(oldest, start_date)
                fri = friday_of(dep, rules.tz, rules.days, rules.now)
                if fri is not None and (rules.floor is None or fri >= rules.floor):
                    best = later(best, FridayDeploy(fri, dep))
                    floor = fri if floor is None else max(floor, fri)
            # Everything older ended before this one started: once this started before the floor, stop.
            if floor is not None and local_date(dep.started, rules.tz) < floor:
                stop = True
                break
        if stop or not page:
            break
    return EnvScan(best, oldest, frontier or known, read)
