"""One poll of one source: which environments changed, read only those, fold the answer into its state.

Source-neutral: a source lists environments, says which changed and hands out pages (publisher/source.py);
the stopping rules live in scan.py and the rule in friday.py. Listing environments again runs on the
monotonic clock while the service runs, so a wall clock that steps back cannot suspend it.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from publisher.friday import later
from publisher.record import remember
from publisher.scan import EnvScan, Rules, Scanner
from publisher.source import EnvInfo, Source, SourceError
from publisher.state import SourceState

log = logging.getLogger("fdc.reader")

READERS = 6  # concurrent environment readers: enough to hide latency, few enough to be polite
COLD_PAGE = 100
WARM_PAGES = (10, 50)  # a steady poll usually needs only the top few results


@dataclass(frozen=True)
class PollRules:
    tz: ZoneInfo
    days: frozenset[int]
    tracking_start: date | None
    now: datetime


@dataclass(frozen=True)
class Outcome:
    state: SourceState
    skipped: tuple[str, ...]  # results left out for impossible times: reported, never counted


def page_sizes(warm: bool) -> Iterator[int]:
    """How many results to ask for, page after page: a steady poll asks for few first."""
    if warm:
        return itertools.chain(WARM_PAGES, itertools.repeat(COLD_PAGE))
    return itertools.repeat(COLD_PAGE)


class Relisting:
    """When each source lists its environments again: on the monotonic clock in a running service; from the
    saved wall-clock time only for the first poll of a process (so cron's --once does not list every run)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._at: dict[str, float] = {}

    def due(self, source: Source, st: SourceState, now: datetime) -> bool:
        if not st.environments:
            return True
        seconds = source.relist.total_seconds()
        if source.name in self._at:
            return self.clock() - self._at[source.name] >= seconds
        saved = st.discovered_at
        return saved is None or not 0 <= (now - saved).total_seconds() < seconds

    def done(self, source: Source) -> None:
        self._at[source.name] = self.clock()


def _read(source: Source, changed: list[EnvInfo], st: SourceState, rules: Rules) -> dict[str, EnvScan]:
    """Read the changed environments breadth first: one page of each per round, readers in parallel.

    After each round the latest Friday found anywhere becomes every reader's floor, so on a cold start an
    environment that never deployed on a Friday is read only back to that date, not to the bottom of its history.
    """
    if not changed:
        return {}
    scanners = {
        env.key: Scanner(
            rules,
            st.frontiers.get(env.key) if source.incremental else None,
            source.label,
            f"environment {env.name!r} of {env.project!r}",
        )
        for env in changed
    }
    pages = {env.key: source.pages(env, source.incremental and env.key in st.frontiers) for env in changed}
    reading = [env.key for env in changed]
    with ThreadPoolExecutor(max_workers=min(READERS, len(reading)), thread_name_prefix=source.name) as pool:
        while reading:
            got = list(pool.map(lambda key: next(pages[key], None), reading))
            more = [page is not None and scanners[k].feed(page) for k, page in zip(reading, got, strict=True)]
            reading = [k for k, again in zip(reading, more, strict=True) if again]
            fridays = [s.best.friday for s in scanners.values() if s.best is not None]
            if fridays:
                for s in scanners.values():
                    s.raise_floor(max(fridays))
                reading = [k for k in reading if not scanners[k].done]
    return {key: s.result() for key, s in scanners.items()}


def poll(source: Source, st: SourceState, rules: PollRules, relisting: Relisting) -> Outcome:
    """The source's new state; raises SourceError (its old state stays as it was) if it cannot be read."""
    source.memo = copy.deepcopy(st.memo)  # what the last good poll noted; a failed poll's notes are dropped
    envs = st.environments
    discovered_at = st.discovered_at
    if relisting.due(source, st, rules.now):
        envs = {e.key: e for e in source.environments()}
        if not envs:
            raise SourceError(source.nothing_matches())
        if set(envs) != set(st.environments):
            log.info("%s: watching %d production environment(s): %s", source.label, len(envs), _names(envs.values()))
        discovered_at = rules.now
        relisting.done(source)
    if not st.environments and source.incremental:  # the first poll reads every environment: skip the round trip
        latest: dict[str, object] = {key: None for key in envs}
        changed = list(envs.values())
    else:
        latest = dict(source.latest(list(envs.values())))
        changed = [envs[k] for k, newest in latest.items() if k in envs and _changed(source, st, k, newest)]
    bounds = [d for d in (st.best.friday if st.best else None, rules.tracking_start) if d is not None]
    scan_rules = Rules(tz=rules.tz, days=rules.days, now=rules.now, floor=max(bounds, default=None))

    scans = _read(source, changed, st, scan_rules)
    best = st.best
    history_start = st.history_start
    frontiers = {k: f for k, f in st.frontiers.items() if k in envs}
    markers = {k: m for k, m in st.markers.items() if k in envs}
    skipped: list[str] = []
    fridays = remember(st.fridays, [f for s in scans.values() for f in s.fridays])
    for key, s in scans.items():
        best = later(best, s.best)
        if s.oldest_start is not None:
            history_start = s.oldest_start if history_start is None else min(history_start, s.oldest_start)
        if s.frontier is not None:
            frontiers[key] = s.frontier
        newest = latest.get(key)
        if isinstance(newest, int | str) and not (s.unsettled or s.skipped):
            markers[key] = newest
        else:  # something in it may still change: a source that is read whole must read it again
            markers.pop(key, None)
        skipped += s.skipped
    if changed:
        log.info(
            "%s: read %d environment(s) with news (%d results); %d unchanged",
            source.label,
            len(changed),
            sum(s.read for s in scans.values()),
            len(envs) - len(changed),
        )
    else:
        log.debug("%s: nothing new in %d environment(s)", source.label, len(envs))
    for line in skipped:
        log.warning("%s: %s", source.label, line)
    new = replace(st, best=best, history_start=history_start, environments=envs, frontiers=frontiers,
                  markers=markers, discovered_at=discovered_at, memo=copy.deepcopy(source.memo),
                  fridays=remember(fridays, [best] if best else []))  # fmt: skip
    return Outcome(new, tuple(skipped))


def _changed(source: Source, st: SourceState, key: str, newest: object) -> bool:
    if newest is None:  # never deployed: nothing to read
        return False
    if not source.incremental:
        return st.markers.get(key) != newest
    frontier = st.frontiers.get(key)
    return frontier is None or frontier.result_id != newest


def _names(envs: Iterable[EnvInfo]) -> str:
    items = [f"{e.project} → {e.name}" for e in envs]
    return ", ".join(items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")
