"""GitHub poll cost: the source's steady polls and cold start against a naive poller, on the GitHub simulator.

Steady: `repos` repositories, each deploying to production every weekday morning for `history` weekdays, never on
a Friday except one repository once. The naive poller re-reads, every poll, the first page (10) of every
repository's production deployments and each of their statuses, unconditionally. Cold start: one repository with
`deep` deployments and its only Friday deployment `depth` deployments down (None: none at all, so the whole
history is the answer). Costs are counted by the simulator: requests, 304s, and rate-limit units (every
answer but a 304 costs one, as on GitHub).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from benchmarks.util import Goal, Report
from publisher.friday import weekday_numbers
from publisher.http import HttpClient, make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.sources.github import GitHubClient, GitHubSource
from publisher.sources.github.source import DEEP, FIRST
from publisher.state import SourceState
from tests.factories import BERLIN, at
from tests.github_sim import GitHubSim

NOW = at("2026-11-26 09:00")  # a Thursday
POLLS_PER_HOUR = 12  # a 5-minute poll_interval


@dataclass(frozen=True)
class GitHubSizes:
    repos: int = 50
    history: int = 30
    steady_polls: int = 3
    deep: int = 1000
    depths: tuple[int | None, ...] = (5, 40, 250, None)


@dataclass
class Cost:
    requests: int
    not_modified: int
    units: int


@dataclass
class Steady:
    cold: Cost
    steady: list[Cost]
    naive: list[Cost]
    news: Cost  # the poll after one new deployment
    after: Cost  # and the one after that
    right: bool


@dataclass
class Cold:
    depth: int | None  # where the one Friday deployment is (None: there is none)
    cost: Cost
    lists: int
    needed_lists: int
    statuses: int
    needed_statuses: int
    right: bool


def history(n: int, friday: int | None) -> list[datetime]:
    """`n` deployment starts at 10:00 on the days before NOW, newest first: no Fridays but one at index ≥ `friday`."""
    out: list[datetime] = []
    day = NOW.date() - timedelta(days=1)
    while len(out) < n:
        if day.weekday() != 4 or (friday is not None and len(out) >= friday and all(d.weekday() != 4 for d in out)):
            out.append(datetime(day.year, day.month, day.day, 10, 0, tzinfo=BERLIN))
        day -= timedelta(days=1)
    return out


def _deploy(sim: GitHubSim, repo: str, start: datetime) -> int:
    return sim.deploy(repo, "production", start - timedelta(minutes=1), ("queued", start - timedelta(minutes=1)),
                      ("in_progress", start), ("success", start + timedelta(minutes=8)))  # fmt: skip


def _measure(sim: GitHubSim, fn: object) -> Cost:
    sim.reset_counts()
    fn()  # type: ignore[operator]
    return Cost(sum(sim.requests.values()), sim.not_modified, sim.units)


class Publisher:
    def __init__(self, sim: GitHubSim, repositories: tuple[str, ...]) -> None:
        self.client = GitHubClient(sim.url, sim.token, retry=make_retry(1, 0))
        self.source = GitHubSource(self.client, repositories, ("production",))
        self.state, self.relisting, self.now = SourceState("bench"), Relisting(), NOW

    def poll(self) -> None:
        rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=None, now=self.now)
        self.state = poll(self.source, self.state, rules, self.relisting).state


def naive(sim: GitHubSim, repos: list[str]) -> None:
    """What a poller without ETags does: the first page of each repository's deployments and all their statuses."""
    http = HttpClient(label="naive", fix="", headers={"Authorization": f"Bearer {sim.token}"}, retry=make_retry(1, 0))
    try:
        for repo in repos:
            page = http.request("GET", f"{sim.url}/repos/{repo}/deployments", what="deployments",
                                params={"environment": "production", "per_page": FIRST})  # fmt: skip
            for d in json.loads(page.body):
                http.request("GET", f"{sim.url}/repos/{repo}/deployments/{d['id']}/statuses", what="statuses")
    finally:
        http.close()


def steady(sizes: GitHubSizes) -> Steady:
    sim = GitHubSim().start()
    repos = [f"acme/svc-{k:03d}" for k in range(sizes.repos)]
    friday = None
    for k, repo in enumerate(repos):
        sim.add_repo(repo)
        starts = history(sizes.history, sizes.history // 2 if k == sizes.repos // 2 else None)
        for start in reversed(starts):
            rid = _deploy(sim, repo, start)
            if start.weekday() == 4:
                friday = rid
    sim.now = lambda: NOW
    pub = Publisher(sim, ("acme/*",))
    try:
        cold = _measure(sim, pub.poll)
        polls = [_measure(sim, pub.poll) for _ in range(sizes.steady_polls)]
        right = pub.state.best is not None and pub.state.best.deployment.result_id == friday
        naive_polls = [_measure(sim, lambda: naive(sim, repos)) for _ in range(sizes.steady_polls)]
        _deploy(sim, repos[0], NOW - timedelta(minutes=20))
        news = _measure(sim, pub.poll)
        after = _measure(sim, pub.poll)
    finally:
        pub.client.close()
        sim.stop()
    return Steady(cold, polls, naive_polls, news, after, right)


def cold_start(sizes: GitHubSizes, depth: int | None) -> Cold:
    sim = GitHubSim().start()
    sim.add_repo("acme/deep")
    starts = history(sizes.deep, depth)
    at_depth = next((i for i, d in enumerate(starts) if d.weekday() == 4), None)
    ids = [_deploy(sim, "acme/deep", s) for s in reversed(starts)][::-1]  # newest first, like `starts`
    sim.now = lambda: NOW
    pub = Publisher(sim, ("acme/deep",))
    try:
        cost = _measure(sim, pub.poll)
        lists = sim.requests["GET /repos/acme/deep/deployments"] - 1  # less the hourly environment discovery
        statuses = sim.requests["GET /repos/acme/deep/deployments/{id}/statuses"]
        best = pub.state.best
        right = (best is not None and best.deployment.result_id == ids[at_depth]) if at_depth is not None else (
            best is None and pub.state.history_start == starts[-1].date())  # fmt: skip
    finally:
        pub.client.close()
        sim.stop()
    stop = sizes.deep if at_depth is None else min(at_depth + 2, sizes.deep)  # deployments down to the stop point
    needed = 1 if stop <= FIRST else 1 + -(-stop // DEEP)
    return Cold(at_depth, cost, lists, needed, statuses, stop, right)


def run(sizes: GitHubSizes = GitHubSizes()) -> Report:
    rep = Report(
        "GitHub poll cost: conditional requests vs a naive poller",
        f"GitHub simulator (tests/github_sim.py) over HTTP on 127.0.0.1; rate-limit units as GitHub counts them "
        f"(a 304 costs none). Steady: {sizes.repos} repositories (`acme/*`), one production deployment a weekday "
        f"for {sizes.history} weekdays; per hour = {POLLS_PER_HOUR} polls (poll_interval 5 min). The naive poller "
        f"reads the first {FIRST} deployments of every repository and their statuses each poll, without ETags. "
        f"Cold start: one repository with {sizes.deep} deployments, its only Friday deployment `depth` down.",
    )
    s = steady(sizes)
    per, nv = s.steady[-1], s.naive[-1]
    rep.header = ["case", "requests", "304s", "rate-limit units", "units per hour", "right"]
    ok = "✓" if s.right else "✗"

    def row(label: str, c: Cost, hourly: bool = False, right: str = "–") -> list[str]:
        per_hour = str(c.units * POLLS_PER_HOUR) if hourly else "–"
        return [label, str(c.requests), str(c.not_modified), str(c.units), per_hour, right]

    rep.table += [
        row("publisher: cold start", s.cold, right=ok),
        row("publisher: steady poll", per, hourly=True, right=ok),
        row("naive: every poll", nv, hourly=True),
        row("publisher: poll after one new deployment", s.news),
        row("publisher: the poll after that", s.after),
    ]
    colds = [cold_start(sizes, d) for d in sizes.depths]
    for c in colds:
        depth = "none" if c.depth is None else str(c.depth)
        label = (
            f"cold start, Friday at depth {depth} of {sizes.deep}: list pages {c.lists} (needed {c.needed_lists}), "
            f"statuses {c.statuses} (needed {c.needed_statuses})"
        )
        rep.table.append(row(label, c.cost, right="✓" if c.right else "✗"))
    rep.facts.update(steady=s, cold=colds)
    rep.goals.append(
        Goal(
            "A steady GitHub poll uses 0 rate-limit units",
            all(p.units == 0 for p in s.steady),
            f"{per.units} units, {per.not_modified} of {per.requests} requests answered 304; the naive poller "
            f"{nv.units} units a poll, {nv.units * POLLS_PER_HOUR} an hour",
        )
    )
    within = all(c.lists <= c.needed_lists and c.statuses <= c.needed_statuses for c in colds)
    rep.goals.append(
        Goal(
            "A cold start reads no more pages than the answer needs",
            within and all(c.right for c in colds),
            "; ".join(
                f"depth {c.depth}: {c.lists}/{c.needed_lists} list pages, {c.statuses}/{c.needed_statuses} statuses"
                for c in colds
            ),
        )
    )
    rep.notes.append(
        f"Pages needed: the list pages of the source's schedule ({FIRST}, the page every steady poll asks for "
        f"conditionally, then pages of {DEEP}) that hold the deployments down to the first one that started "
        "before the Friday found (where the scanner stops); statuses needed: one per such deployment. Statuses are "
        "read lazily, at most one deployment ahead of the scanner (publisher/sources/github/order.py)."
    )
    rep.notes.append(
        "REST costs one request per deployment for its statuses on a cold start; GraphQL would read 100 deployments "
        "with their statuses in one query, but cannot answer 304, so steady polls stay REST. A cold start is once "
        "per state file; with ETags in the state, `--once` from cron is a steady poll too."
    )
    return rep
