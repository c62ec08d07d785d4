"""Reading one environment's history, newest first, no deeper than the answer needs.

Pure: it consumes pages (lists of Deployment) and never does I/O itself, so the stopping rules are tested
without HTTP. It relies on what every polled source guarantees: results come newest first by start, and one
environment runs one deployment at a time, so a result ended before the next newer one started.
Hostile pages are bounded here too: a page that only repeats what was read, or more results than any real
history has, stop the read with an error; a result with impossible times is skipped and reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment, ResultId
from publisher.friday import FridayDeploy, friday_of, later, local_date
from publisher.plausible import implausible
from publisher.source import SourceError

MAX_RESULTS = 200_000  # per environment and poll: far beyond any real history, small enough to end a loop


@dataclass(frozen=True)
class Frontier:
    """The newest result already read such that it and everything older had settled (finished/never ran)."""

    result_id: ResultId
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
    skipped: tuple[str, ...] = field(default=())  # why results with impossible times were left out
    unsettled: bool = False  # a result read may still change (running, waiting): read it again next time
    fridays: tuple[FridayDeploy, ...] = field(default=())  # every Friday deployment read (down to the floor)


class Scanner:
    """One environment's history fed page by page, so a poll can read many environments breadth first.

    `raise_floor` hands in a Friday found in another environment during the same poll: nothing in this one
    that ended before that date can change the answer, so reading stops there instead of at the bottom.
    """

    def __init__(
        self, rules: Rules, known: Frontier | None, label: str = "the source", what: str = "an environment"
    ) -> None:
        self.rules, self.known, self.label, self.what = rules, known, label, what
        self.best: FridayDeploy | None = None
        self.oldest: date | None = None  # local start date of the oldest result that ran, among those read
        self.frontier: Frontier | None = None  # reset by every unsettled result: only older settled ones qualify
        self.floor = rules.floor
        self.read = 0
        self.done = False
        self.skipped: list[str] = []
        self.unsettled = False
        self.fridays: list[FridayDeploy] = []  # every one passed on the way down: the record is made of them
        self._seen: set[ResultId] = set()
        self._last: date | None = None  # local start date of the oldest result read so far

    def raise_floor(self, day: date) -> None:
        """A Friday found elsewhere; if what was read already reaches back past it, this reader is done."""
        self.floor = day if self.floor is None else max(self.floor, day)
        if self._last is not None and self._last < self.floor:
            self.done = True

    def feed(self, page: list[Deployment]) -> bool:
        """Take the next page (newest first); True while an older page could still change the answer.

        Raises SourceError when the pages cannot be a real history (only repeats, or no end).
        """
        if self.done or not page:
            self.done = True
            return False
        if all(dep.result_id in self._seen for dep in page):
            raise SourceError(
                f"{self.label} sent the same page of {self.what} twice: stopped reading it (a paging bug?)"
            )
        rules = self.rules
        for dep in page:
            if dep.result_id in self._seen:  # a new deployment shifted the pages while we read them
                continue
            self._seen.add(dep.result_id)
            if len(self._seen) > MAX_RESULTS:
                raise SourceError(
                    f"{self.label} has more than {MAX_RESULTS:,} results in {self.what}: stopped reading (endless?)"
                )
            why = implausible(dep, rules.now)
            if why is not None:  # never counted; read again next time, so the report stays until it is fixed
                self.skipped.append(f"skipped result {dep.result_id} of {dep.project} → {dep.environment}: {why}")
                self.frontier = None
                continue
            known = self.known
            if known is not None and (dep.result_id == known.result_id or dep.started < known.started):
                self.done = True
                return False
            self.read += 1
            if not dep.settled:
                self.frontier = None
                self.unsettled = True
            elif self.frontier is None:
                self.frontier = Frontier(dep.result_id, dep.started)
            if dep.ran:
                start_date = local_date(dep.started, rules.tz)
                self.oldest = start_date if self.oldest is None else min(self.oldest, start_date)
                fri = friday_of(dep, rules.tz, rules.days, rules.now)
                if fri is not None and (rules.floor is None or fri >= rules.floor):
                    self.fridays.append(FridayDeploy(fri, dep))
                    self.best = later(self.best, self.fridays[-1])
                    self.raise_floor(fri)
            # Everything older ended before this one started: once this started before the floor, stop.
            self._last = local_date(dep.started, rules.tz)
            if self.floor is not None and self._last < self.floor:
                self.done = True
                return False
        return True

    def result(self) -> EnvScan:
        return EnvScan(
            self.best,
            self.oldest,
            self.frontier or self.known,
            self.read,
            tuple(self.skipped),
            self.unsettled,
            tuple(self.fridays),
        )


def scan(pages: Iterable[list[Deployment]], rules: Rules, known: Frontier | None) -> EnvScan:
    """Walk pages newest first; stop at what was already seen, or where older results cannot matter."""
    scanner = Scanner(rules, known)
    for page in pages:
        if not scanner.feed(page):
            break
    return scanner.result()
