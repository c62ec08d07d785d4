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


class Scanner:
    """One environment's history fed page by page, so a poll can read many environments breadth first.

    `raise_floor` hands in a Friday found in another environment during the same poll: nothing in this one
    that ended before that date can change the answer, so reading stops there instead of at the bottom.
    """

    def __init__(self, rules: Rules, known: Frontier | None) -> None:
        self.rules, self.known = rules, known
        self.best: FridayDeploy | None = None
        self.oldest: date | None = None  # local start date of the oldest result that ran, among those read
        self.frontier: Frontier | None = None  # reset by every unsettled result: only older settled ones qualify
        self.floor = rules.floor
        self.read = 0
        self.done = False
        self._seen: set[int] = set()
        self._last: date | None = None  # local start date of the oldest result read so far

    def raise_floor(self, day: date) -> None:
        """A Friday found elsewhere; if what was read already reaches back past it, this reader is done."""
        self.floor = day if self.floor is None else max(self.floor, day)
        if self._last is not None and self._last < self.floor:
            self.done = True

    def feed(self, page: list[Deployment]) -> bool:
        """Take the next page (newest first); True while an older page could still change the answer."""
        if self.done or not page:
            self.done = True
            return False
        rules = self.rules
        for dep in page:
            if dep.result_id in self._seen:  # a new deployment shifted the pages while we read them
                continue
            self._seen.add(dep.result_id)
            known = self.known
            if known is not None and (dep.result_id == known.result_id or dep.started < known.started):
                self.done = True
                return False
            self.read += 1
            if not dep.settled:
                self.frontier = None
            elif self.frontier is None:
                self.frontier = Frontier(dep.result_id, dep.started)
            if dep.ran:
                start_date = local_date(dep.started, rules.tz)
                self.oldest = start_date if self.oldest is None else min(self.oldest, start_date)
                fri = friday_of(dep, rules.tz, rules.days, rules.now)
                if fri is not None and (rules.floor is None or fri >= rules.floor):
                    self.best = later(self.best, FridayDeploy(fri, dep))
                    self.raise_floor(fri)
            # Everything older ended before this one started: once this started before the floor, stop.
            self._last = local_date(dep.started, rules.tz)
            if self.floor is not None and self._last < self.floor:
                self.done = True
                return False
        return True

    def result(self) -> EnvScan:
        return EnvScan(self.best, self.oldest, self.frontier or self.known, self.read)


def scan(pages: Iterable[list[Deployment]], rules: Rules, known: Frontier | None) -> EnvScan:
    """Walk pages newest first; stop at what was already seen, or where older results cannot matter."""
    scanner = Scanner(rules, known)
    for page in pages:
        if not scanner.feed(page):
            break
    return scanner.result()
