"""One poll: which environments changed, read only those, fold the answer into the state.

The incremental part lives here; the rule lives in friday.py and the stopping rules in scan.py.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from publisher.bamboo import BambooClient, BambooError
from publisher.friday import later
from publisher.scan import Rules, Scanner
from publisher.state import EnvInfo, State

log = logging.getLogger("fdc.poll")

READERS = 6  # concurrent environment readers: enough to hide latency, few enough to be polite
REDISCOVER = timedelta(hours=1)  # new deployment projects/environments are picked up this often
COLD_PAGE = 100
WARM_PAGES = (10, 50)  # a steady poll usually needs only the top few results


def matches(env: EnvInfo, projects: tuple[str, ...], environments: tuple[str, ...]) -> bool:
    """Case-insensitive full matches on the project name and the environment name."""
    return any(re.fullmatch(p, env.project, re.IGNORECASE) for p in projects) and any(
        re.fullmatch(e, env.name, re.IGNORECASE) for e in environments
    )


def _page_sizes(warm: bool) -> Iterator[int]:
    if warm:
        return itertools.chain(WARM_PAGES, itertools.repeat(COLD_PAGE))
    return itertools.repeat(COLD_PAGE)


def _read(client: BambooClient, changed: list[EnvInfo], state: State, rules: Rules) -> dict[EnvInfo, Scanner]:
    """Read the changed environments breadth first: one page of each per round, readers in parallel.

    After each round the latest Friday found anywhere becomes every reader's floor, so on a cold start an
    environment that never deployed on a Friday is read only back to that date, not to the bottom of its history.
    """
    scanners = {env: Scanner(rules, state.frontiers.get(env.id)) for env in changed}
    pages = {env: client.results(env, _page_sizes(env.id in state.frontiers)) for env in changed}
    reading = list(changed)
    if not reading:
        return scanners
    with ThreadPoolExecutor(max_workers=min(READERS, len(reading)), thread_name_prefix="bamboo") as pool:
        while reading:
            got = list(pool.map(lambda env: next(pages[env], None), reading))
            more = [page is not None and scanners[env].feed(page) for env, page in zip(reading, got, strict=True)]
            reading = [env for env, again in zip(reading, more, strict=True) if again]
            fridays = [s.best.friday for s in scanners.values() if s.best is not None]
            if fridays:
                for s in scanners.values():
                    s.raise_floor(max(fridays))
                reading = [env for env in reading if not scanners[env].done]
    return scanners


def poll(
    client: BambooClient,
    state: State,
    *,
    tz: ZoneInfo,
    days: frozenset[int],
    tracking_start: date | None,
    projects: tuple[str, ...],
    environments: tuple[str, ...],
    now: datetime,
) -> State:
    """Return the new state; raise BambooError (the old state stays as it was) if Bamboo cannot be read."""
    envs = state.environments
    discovered_at = state.discovered_at
    if not envs or discovered_at is None or now - discovered_at >= REDISCOVER:
        found = [e for e in client.environments() if matches(e, projects, environments)]
        envs = {e.id: e for e in found}
        discovered_at = now
        if not envs:
            raise BambooError(
                f"Bamboo at {client.url} has no environment matching bamboo.environments {list(environments)} in "
                f"a deployment project matching bamboo.projects {list(projects)}: check those regexes"
            )
        log.info("watching %d production environment(s): %s", len(envs), _names(envs.values()))
    if not state.environments:  # the first poll reads every environment anyway: skip the round trip that says which
        latest: dict[int, int | None] = {i: -1 for i in sorted(envs)}
    else:
        latest = client.latest(sorted(envs))
    changed = [
        envs[i]
        for i, newest in latest.items()
        if newest is not None and (i not in state.frontiers or state.frontiers[i].result_id != newest)
    ]
    bounds = [d for d in (state.best.friday if state.best else None, tracking_start) if d is not None]
    floor = max(bounds, default=None)
    rules = Rules(tz=tz, days=days, now=now, floor=floor)

    scans = {env.id: s.result() for env, s in _read(client, changed, state, rules).items()}
    best = state.best
    history_start = state.history_start
    frontiers = {i: f for i, f in state.frontiers.items() if i in envs}
    for env_id, s in scans.items():
        best = later(best, s.best)
        if s.oldest_start is not None:
            history_start = s.oldest_start if history_start is None else min(history_start, s.oldest_start)
        if s.frontier is not None:
            frontiers[env_id] = s.frontier
    if changed:
        log.info(
            "read %d environment(s) with news (%d results); %d unchanged",
            len(changed),
            sum(s.read for s in scans.values()),
            len(envs) - len(changed),
        )
    return replace(
        state,
        best=best,
        history_start=history_start,
        environments=envs,
        frontiers=frontiers,
        discovered_at=discovered_at,
    )


def _names(envs: Iterable[EnvInfo]) -> str:
    items = [f"{e.project} → {e.name}" for e in envs]
    return ", ".join(items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")


class BambooSource:
    """Bamboo as a Source: the client plus the patterns that pick production environments."""

    name = "bamboo"
    watch: float | None = None

    def __init__(self, client: BambooClient, projects: tuple[str, ...], environments: tuple[str, ...]) -> None:
        self.client, self.projects, self.environments = client, projects, environments

    def poll(
        self, state: State, *, tz: ZoneInfo, days: frozenset[int], tracking_start: date | None, now: datetime
    ) -> State:
        return poll(self.client, state, tz=tz, days=days, tracking_start=tracking_start,
                    projects=self.projects, environments=self.environments, now=now)  # fmt: skip

    def changed(self) -> bool:
        return False

    def close(self) -> None:
        self.client.close()
