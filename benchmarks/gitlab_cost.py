"""GitLab poll cost: the `gitlab:` source's steady poll against a naive poller, and its cold start over deep history.

Steady: `projects` projects, each with a production and a staging environment and a month of history; the
source's steady poll is one `updated_after` request per project (GitLab has no conditional requests, so one per
project is the floor); the naive poller re-reads the first page (20) of every project's deployments by id each
poll. Both on the GitLab simulator over HTTP on 127.0.0.1, with a virtual clock 5 minutes a poll.

Cold start: `cold_envs` projects, one production environment each, `depth` deployments a day apart (never on a
Friday) except one Friday deployment `FRIDAY_DEPTH` back in one of them (or none when `depth` is smaller).
"Pages the answer needs": in each environment, GitLab's pages (100, `updated_at` descending, what the source
reads) down to the first that holds a deployment started before the answer's Friday — a reader cannot know
that nothing older matters before it has seen one — or every page when there is no Friday deployment at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from benchmarks.util import Goal, Report, kb, ratio
from publisher.friday import count, local_date, weekday_numbers
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.sources.gitlab import GitLabSource
from publisher.sources.gitlab.api import GitLabClient
from publisher.state import SourceState
from tests.gitlab_sim import GitLabSim

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAYS = weekday_numbers(["friday"])
FRIDAY_DEPTH = 140  # the one Friday deployment is this many deployments back: beyond the first page of 100
INTERVAL = timedelta(minutes=5)
TOKEN = "glpat-bench"
START = datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN)  # a Thursday


@dataclass(frozen=True)
class GitLabSizes:
    projects: int = 50
    polls: int = 12  # steady polls measured, quiet and then busy: an hour at 5 minutes each
    depths: tuple[int, ...] = (50, 500, 5000)
    cold_envs: int = 10


@dataclass
class Clocked:
    """The source and the reader on a virtual clock the simulator's Date header follows."""

    sim: GitLabSim
    now: datetime = START
    state: SourceState = field(default_factory=lambda: SourceState("bench"))

    def __post_init__(self) -> None:
        self.sim.now = lambda: self.now
        self.client = GitLabClient(self.sim.url, TOKEN, retry=make_retry(1, 0))
        self.source = GitLabSource(self.client, ("bench/*",), ("production",))
        self.relisting = Relisting(clock=lambda: self.now.timestamp())

    def poll(self) -> tuple[int, int]:
        """One poll: (requests, body bytes) it cost."""
        before = (self.client.traffic.requests, self.client.traffic.bytes)
        rules = PollRules(tz=BERLIN, days=FRIDAYS, tracking_start=None, now=self.now)
        self.state = poll(self.source, self.state, rules, self.relisting).state
        return self.client.traffic.requests - before[0], self.client.traffic.bytes - before[1]

    def weeks(self) -> int | None:
        c = count(self.state.best, self.state.history_start, None, local_date(self.now, BERLIN))
        return None if c is None else c.weeks


def _history(sim: GitLabSim, env: int, depth: int, minute: int, friday_at: int | None) -> None:
    """`depth` deployments a day apart going back from yesterday, the `friday_at`-th one on a Friday."""
    day, made = START.date() - timedelta(days=1), 0
    while made < depth:
        if day.weekday() == 4 and made != friday_at:
            day -= timedelta(days=1)
            continue
        if made == friday_at and day.weekday() != 4:
            day -= timedelta(days=(day.weekday() - 4) % 7)
        start = datetime(day.year, day.month, day.day, 10, minute % 60, tzinfo=BERLIN)
        sim.deploy(env, start, start + timedelta(minutes=8))
        made, day = made + 1, day - timedelta(days=1)


def steady(sizes: GitLabSizes) -> dict[str, float]:
    sim = GitLabSim(token=TOKEN).start()
    try:
        pids = []
        for k in range(sizes.projects):
            pid = sim.add_project(f"bench/service-{k:03d}")
            pids.append(pid)
            _history(sim, sim.add_env(pid, "production"), 30, k, 3 if k == 0 else None)
            _history(sim, sim.add_env(pid, "staging"), 30, k, None)
        w = Clocked(sim)
        cold_req, _ = w.poll()
        listing = sum(1 for p in sim.log if "/deployments" not in p)  # projects and environments: hourly
        quiet = []
        for _ in range(sizes.polls - 1):  # within the hour: the hourly listing is counted on its own
            w.now += INTERVAL
            quiet.append(w.poll())
        w.now += INTERVAL
        w.poll()  # the hourly listing falls here
        busy = []  # one new deployment somewhere before each poll
        for n in range(sizes.polls - 1):
            prod = next(
                e.id for e in sim.envs.values() if e.project_id == pids[n % len(pids)] and e.tier == "production"
            )
            sim.deploy(prod, w.now + timedelta(minutes=1), w.now + timedelta(minutes=3))
            w.now += INTERVAL
            busy.append(w.poll())
        naive_client = GitLabClient(sim.url, TOKEN, retry=make_retry(1, 0))
        for pid in pids:
            params = {"order_by": "id", "sort": "desc", "per_page": 20}
            naive_client.get(f"projects/{pid}/deployments", "the newest deployments", params)
        naive = (naive_client.traffic.requests, naive_client.traffic.bytes)
        naive_client.close()
        w.client.close()
        return {
            "cold_requests": cold_req,
            "requests_per_poll": sum(r for r, _ in quiet) / len(quiet),
            "bytes_per_poll": sum(b for _, b in quiet) / len(quiet),
            "busy_requests_per_poll": sum(r for r, _ in busy) / len(busy),
            "naive_requests_per_poll": naive[0],
            "naive_bytes_per_poll": naive[1],
            "listing_per_hour": listing,
            "weeks": w.weeks() or 0,
        }
    finally:
        sim.stop()


def needed_pages(sim: GitLabSim, env: int, floor: date | None) -> int:
    rows = sorted(
        (d for d in sim.deployments.values() if d.env_id == env), key=lambda d: (d.updated, d.id), reverse=True
    )
    for i, d in enumerate(rows):
        start = d.job.started if d.job and d.job.started else d.created
        if floor is not None and local_date(start, BERLIN) < floor:
            return i // 100 + 1
    return max(1, -(-len(rows) // 100))


def cold(depth: int, envs: int) -> dict[str, int | None]:
    sim = GitLabSim(token=TOKEN).start()
    try:
        ids = []
        for k in range(envs):
            pid = sim.add_project(f"bench/service-{k:03d}")
            ids.append(sim.add_env(pid, "production"))
            _history(sim, ids[-1], depth, k, FRIDAY_DEPTH if k == envs // 2 and depth > FRIDAY_DEPTH else None)
        w = Clocked(sim)
        w.poll()
        read = sum(1 for p in sim.log if "environment=production" in p)
        floor = w.state.best.friday if w.state.best else None
        need = sum(needed_pages(sim, e, floor) for e in ids)
        w.client.close()
        return {"depth": depth, "envs": envs, "read": read, "needed": need, "weeks": w.weeks()}
    finally:
        sim.stop()


def run(sizes: GitLabSizes = GitLabSizes()) -> Report:
    rep = Report(
        "GitLab poll cost: the gitlab: source against a naive poller",
        f"GitLab simulator over HTTP on 127.0.0.1, a virtual clock 5 minutes a poll. Steady: {sizes.projects} "
        "projects (production + staging, a month of history each). Cold start: "
        f"{sizes.cold_envs} projects × N deployments a day apart, one Friday deployment {FRIDAY_DEPTH} back in "
        "one of them when the history is that deep. Requests and body bytes are counted by the client.",
    )
    s = steady(sizes)
    per_hour = s["requests_per_poll"] * 12 + s["listing_per_hour"]  # 12 polls an hour at 5 minutes
    naive_hour = s["naive_requests_per_poll"] * 12
    rep.header = ["measure", "gitlab: source", "naive poller", "ratio"]
    rep.table += [
        ["requests per steady poll", f"{s['requests_per_poll']:g}", f"{s['naive_requests_per_poll']:g}",
         ratio(s["requests_per_poll"], s["naive_requests_per_poll"])],
        ["body bytes per steady poll", kb(s["bytes_per_poll"]), kb(s["naive_bytes_per_poll"]),
         ratio(s["bytes_per_poll"], s["naive_bytes_per_poll"])],
        ["requests per poll with one new deployment", f"{s['busy_requests_per_poll']:g}",
         f"{s['naive_requests_per_poll']:g}", ratio(s["busy_requests_per_poll"], s["naive_requests_per_poll"])],
        ["requests per hour at 5 min (listing included)", f"{per_hour:g}", f"{naive_hour:g}",
         ratio(per_hour, naive_hour)],
    ]  # fmt: skip
    cases = [cold(depth, sizes.cold_envs) for depth in sizes.depths]
    for c in cases:
        rep.table.append(
            [f"cold start, {c['envs']} × {c['depth']:,}: pages read / needed (weeks)", f"{c['read']} ({c['weeks']})",
             f"{c['needed']} needed", ratio(float(c["read"] or 0), float(c["needed"] or 1))]
        )  # fmt: skip
    rep.facts = {"steady": s, "cold": cases}
    rep.goals.append(
        Goal(
            "A steady poll costs at most one request per project",
            s["requests_per_poll"] <= sizes.projects,
            f"{s['requests_per_poll']:g} requests for {sizes.projects} projects "
            f"({kb(s['bytes_per_poll'])} against the naive poller's {kb(s['naive_bytes_per_poll'])})",
        )
    )
    rep.goals.append(
        Goal(
            "A cold start reads no more pages than the answer needs",
            all((c["read"] or 0) <= (c["needed"] or 0) for c in cases),
            "; ".join(f"{c['envs']} × {c['depth']:,}: {c['read']} of {c['needed']}" for c in cases),
        )
    )
    rep.notes.append(
        "GitLab answers no conditional requests, so one request per project is the floor of a steady poll; the "
        "source's is `updated_after` (nearly empty when nothing changed) where the naive poller reads 20 "
        "deployments a project. Listing the group's projects and each project's environments happens hourly "
        f"({s['listing_per_hour']:g} requests) and is counted in the hourly figure. Environments with news are "
        "read with a first page of 10."
    )
    return rep
