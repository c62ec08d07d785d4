"""Poll cost: the publisher's cold start and steady poll against the 2016 script, on the Bamboo simulator.

The history: every production environment deploys once a day at 10:00 Berlin time, never on a Friday, going
back `results` days. One environment broke the rule once, `FRIDAY_DEPTH` deployments ago (deeper than the
script's single page of 25 when the history is long enough): that Friday sets the number. Each project also
has a Staging environment (one result) that neither reader should count. The right answer comes from an
oracle that applies the rule (publisher/friday.py) to every result the simulator holds, not from poll().
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from benchmarks.script_2016 import MAXINT, get_weeks_since_friday_deploy
from benchmarks.util import Goal, Report, kb, ms, ratio
from publisher.deployment import Deployment
from publisher.friday import FridayDeploy, count, friday_of, later, local_date, weekday_numbers
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.sources.bamboo import BambooSource
from publisher.sources.bamboo.api import BambooAuth, BambooClient
from publisher.sources.bamboo.wire import lifecycle
from publisher.state import SourceState
from tests.bamboo_sim import BambooSim, SimResult

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAYS = weekday_numbers(["friday"])
FRIDAY_DEPTH = 40  # the one Friday deployment is this many deployments back in its environment
USER, PASSWORD = "bench", "bench-secret"


@dataclass(frozen=True)
class PollSizes:
    envs: tuple[int, ...] = (1, 50, 200)
    results: tuple[int, ...] = (25, 500, 5000)
    latency: float = 0.020  # seconds per request


@dataclass
class Run:
    weeks: int | None
    requests: int
    bytes: int
    seconds: float


def build(envs: int, results: int, latency: float, today: date) -> BambooSim:
    """A simulator holding the history described in the module docstring (built directly: deploy() sorts)."""
    sim = BambooSim(token=None, username=USER, password=PASSWORD, latency=latency)
    next_id = 100_000
    for k in range(envs):
        project = f"Service {k:03d}"
        prod = sim.add_env(project, "Production")
        staging = sim.add_env(project, "Staging")
        planted = k != envs // 2  # only the middle environment ever deployed on a Friday
        target = min(FRIDAY_DEPTH, results // 2)
        out: list[SimResult] = []
        day = today - timedelta(days=1)
        while len(out) < results:
            if day.weekday() == 4:
                if planted or len(out) < target:
                    day -= timedelta(days=1)
                    continue
                planted = True
            start = datetime(day.year, day.month, day.day, 10, k % 60, tzinfo=BERLIN)
            next_id += 1
            out.append(SimResult(next_id, prod, f"v{next_id}", start, start + timedelta(minutes=10)))
            day -= timedelta(days=1)
        sim.envs[prod].results = out  # newest first, as Bamboo serves them
        next_id += 1
        start = datetime(today.year, today.month, today.day, 8, 0, tzinfo=BERLIN) - timedelta(days=1)
        sim.envs[staging].results = [SimResult(next_id, staging, "s1", start, start + timedelta(minutes=3))]
    sim._next_id = next_id + 1
    return sim


def oracle(sim: BambooSim, now: datetime) -> int | None:
    """The rule applied to every result the simulator holds: what a correct reader must publish."""
    best: FridayDeploy | None = None
    first: date | None = None
    for env in sim.envs.values():
        if not re.fullmatch("production", env.name, re.IGNORECASE):
            continue
        for r in env.results:
            d = Deployment("bamboo", r.id, str(env.id), env.project, env.name, r.version, r.state,
                           lifecycle(r.lifecycle), r.started, r.finished)  # fmt: skip
            if not d.ran:
                continue
            start = local_date(d.started, BERLIN)
            first = start if first is None else min(first, start)
            fri = friday_of(d, BERLIN, FRIDAYS, now)
            if fri is not None:
                best = later(best, FridayDeploy(fri, d))
    c = count(best, first, None, local_date(now, BERLIN))
    return None if c is None else c.weeks


def _measure(sim: BambooSim, fn: object) -> tuple[object, int, int, float]:
    before_req, before_bytes = sum(sim.requests.values()), sim.bytes_sent
    t = time.perf_counter()
    out = fn()  # type: ignore[operator]
    seconds = time.perf_counter() - t
    time.sleep(0.05)  # the simulator counts a response's bytes just after sending it: let the last count land
    return out, sum(sim.requests.values()) - before_req, sim.bytes_sent - before_bytes, seconds


def run_script(sim: BambooSim) -> Run:
    weeks, n, b, s = _measure(sim, lambda: get_weeks_since_friday_deploy(USER, PASSWORD, sim.url))
    assert isinstance(weeks, int)
    return Run(weeks, n, b, s)


class Publisher:
    """poll() as the service runs it: one client, state carried from poll to poll."""

    def __init__(self, sim: BambooSim) -> None:
        self.sim = sim
        self.client = BambooClient(sim.url, BambooAuth(username=USER, password=PASSWORD), retry=make_retry(1, 0))
        self.source = BambooSource(self.client, (".*",), ("production",))
        self.relisting = Relisting()
        self.state = SourceState("bench")

    def poll(self) -> Run:
        def once() -> int | None:
            now = datetime.now(BERLIN)
            rules = PollRules(tz=BERLIN, days=FRIDAYS, tracking_start=None, now=now)
            self.state = poll(self.source, self.state, rules, self.relisting).state
            c = count(self.state.best, self.state.history_start, None, local_date(now, BERLIN))
            return None if c is None else c.weeks

        weeks, n, b, s = _measure(self.sim, once)
        return Run(weeks if isinstance(weeks, int) else None, n, b, s)

    def close(self) -> None:
        self.client.close()


def answer(weeks: int | None, truth: int | None) -> str:
    shown = "maxint" if weeks == MAXINT else str(weeks)
    return f"{shown} {'✓' if weeks == truth else '✗'}"


def run(sizes: PollSizes = PollSizes()) -> Report:
    rep = Report(
        "Poll cost: publisher vs the 2016 script",
        f"Bamboo simulator over HTTP on 127.0.0.1 with {sizes.latency * 1000:g} ms latency per request. Each cell "
        "is one environment count × results of history per production environment (one deployment a day, "
        f"never on a Friday except once, {FRIDAY_DEPTH} deployments back in one environment, or halfway "
        "down a shorter history). The script (benchmarks/script_2016.py) is the baseline: every ratio is "
        "publisher / script. Answer: the number published; ✓ when it equals the oracle's (the rule applied to "
        "every result held by the simulator).",
    )
    rep.header = [
        "envs × results", "truth", "script: req / bytes / time / answer",
        "cold: req / bytes / time / answer", "cold time ratio",
        "steady: req / bytes / time / answer", "steady req ratio", "steady bytes ratio",
        "one new deploy: req / bytes",
    ]  # fmt: skip
    cases = []
    for envs in sizes.envs:
        for results in sizes.results:
            today = datetime.now(BERLIN).date()
            sim = build(envs, results, sizes.latency, today).start()
            pub = Publisher(sim)
            try:
                truth = oracle(sim, datetime.now(BERLIN))
                script = run_script(sim)
                cold = pub.poll()
                steady = pub.poll()
                # one new (non-Friday) deployment somewhere: a steady poll with news
                env = next(e for e in sim.envs.values() if e.name == "Production")
                now = datetime.now(BERLIN)
                sim.deploy(env.id, now - timedelta(minutes=3), now - timedelta(minutes=1))
                news = pub.poll()
            finally:
                pub.close()
                sim.stop()
            case = {"envs": envs, "results": results, "truth": truth, "script": script, "cold": cold,
                    "steady": steady, "news": news}  # fmt: skip
            cases.append(case)
            rep.table.append(
                [
                    f"{envs} × {results:,}",
                    str(truth),
                    f"{script.requests} / {kb(script.bytes)} / {ms(script.seconds)} / {answer(script.weeks, truth)}",
                    f"{cold.requests} / {kb(cold.bytes)} / {ms(cold.seconds)} / {answer(cold.weeks, truth)}",
                    ratio(cold.seconds, script.seconds),
                    f"{steady.requests} / {kb(steady.bytes)} / {ms(steady.seconds)} / {answer(steady.weeks, truth)}",
                    ratio(steady.requests, script.requests),
                    ratio(steady.bytes, script.bytes),
                    f"{news.requests} / {kb(news.bytes)}",
                ]
            )
    rep.facts["cases"] = cases
    steady_ok = [
        c for c in cases
        if c["steady"].requests * 10 <= c["script"].requests and c["steady"].bytes * 10 <= c["script"].bytes
    ]  # fmt: skip
    worst_req = max(c["steady"].requests / c["script"].requests for c in cases)
    worst_bytes = max(c["steady"].bytes / c["script"].bytes for c in cases)
    rep.goals.append(
        Goal(
            "A steady poll makes at most 1/10 of the script's requests and bytes",
            len(steady_ok) == len(cases),
            f"{len(steady_ok)} of {len(cases)} cells; worst ratios {worst_req:.3f}× requests, {worst_bytes:.4f}× bytes",
        )
    )
    right = [c for c in cases if c["cold"].weeks == c["truth"] and c["steady"].weeks == c["truth"]]
    wrong_script = [c for c in cases if c["script"].weeks != c["truth"]]
    faster = [c for c in cases if c["cold"].seconds < c["script"].seconds]
    rep.goals.append(
        Goal(
            "The publisher is right in every cell",
            len(right) == len(cases),
            f"{len(right)} of {len(cases)} (the script: {len(cases) - len(wrong_script)} of {len(cases)})",
        )
    )
    rep.goals.append(
        Goal(
            "A cold start is faster than the script's poll",
            len(faster) == len(cases),
            f"{len(faster)} of {len(cases)} cells; slower in: "
            + (", ".join(f"{c['envs']} × {c['results']:,}" for c in cases if c not in faster) or "none"),
        )
    )
    one = [c for c in cases if c["envs"] == 1]
    if one:
        c = one[-1]
        rep.notes.append(
            "Steady polls at 1 environment: a poll is at least one request and the script makes 1 + (number of "
            "environments), so with one environment no reader can get below 1/2 of its requests; the publisher's "
            f"steady poll is that one request, with {ratio(c['steady'].bytes, c['script'].bytes)} of the bytes. "
            "From 9 environments on, 1/(1 + N) is under 1/10, and every such cell meets the goal."
        )
        rep.notes.append(
            f"Cold start at 1 environment ({ratio(c['cold'].seconds, c['script'].seconds)} the script's time): "
            f"both make {c['cold'].requests} sequential requests (the environment list, then one page), so at "
            f"{sizes.latency * 1000:g} ms a request neither can be much faster. The publisher asks for pages of 100 "
            "where the script takes Bamboo's default 25: that is what lets it find the Friday 40 deployments back "
            f"where the script publishes sys.maxint, at the price of {kb(c['cold'].bytes)} to parse instead of "
            f"{kb(c['script'].bytes)}. From 50 environments on, six parallel readers make the cold start 2-4 times "
            "faster than the script's sequential reads."
        )
    rep.notes.append(
        "Two fixes came out of this bench. (1) Reading breadth first (publisher/reader.py, publisher/scan.py): a "
        "cold start used to read every environment without a Friday deployment to the bottom of its history; "
        "measured before the fix at 10 environments × 500 results it took 57 requests and 5.0 MB where the script "
        "took 11, and 200 × 5,000 would have been about 10,000 requests and 1.1 GB. Now a Friday found in one "
        "environment is every reader's floor after each round of pages. (2) The first poll no longer asks for "
        "the latest results (it reads every environment anyway): one round trip less."
    )
    return rep
