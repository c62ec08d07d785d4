"""Push latency: from `POST /api/v1/deployments` to the new number on a display node, next to the polled path.

One mosquitto, one `fdc publisher` process (Bamboo simulator + `webhooks:`), one `fdc display` process (dummy
driver). Each push is a Friday deployment one week later than the last, so the number drops by one each time;
the time is taken from just before the POST to the node's `showing` report of the new number (which the node
publishes right after drawing the frame: one broker hop more than the frame itself). Baseline, same run, same
processes: the same kind of deployment appearing in Bamboo at a random moment of the poll cycle, until the
node shows it; and what that means at the default poll interval of 5 minutes.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from benchmarks.nodes import Client, display_command
from benchmarks.util import Goal, Report, ms, percentile, ratio, stop_all
from tests.bamboo_sim import BambooSim
from tests.broker import Broker, free_port, wait_until
from tests.publisher_run import TZ, three_weeks_ago_friday
from tests.run_fdc import spawn_fdc

GOAL_P99 = 0.100
DEFAULT_POLL = 300.0
TOKEN, BAMBOO_TOKEN = "bench-push-token", "bench-bamboo-token"
NODE = "bench-push"
SETTLE = 0.1  # seconds between rounds: twice the display node's frame interval


@dataclass(frozen=True)
class PushSizes:
    pushes: int = 200
    polled_rounds: int = 10
    poll_interval: float = 2.0  # seconds, for the measured polled path


def _friday(weeks_ago: int) -> datetime:
    f = three_weeks_ago_friday() + timedelta(weeks=3 - weeks_ago)
    return datetime(f.year, f.month, f.day, 16, 0, tzinfo=TZ)


def _round(value: int, shown: dict[int, float], lock: threading.Lock, act: Any, timeout: float) -> float | None:
    """Run `act()` (returns its start time), then wait until the node shows `value`; the latency, or None.

    Rounds start SETTLE apart: a node draws at most 20 frames a second, so a push right after its last frame
    would measure that cap, not the path (real deploys are minutes apart)."""
    time.sleep(SETTLE)
    t0: float = act()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lock:
            t = shown.get(value)
        if t is not None and t >= t0:
            return t - t0
        time.sleep(0.001)
    return None


def run(sizes: PushSizes = PushSizes()) -> Report:
    rep = Report(
        "Push: POST → the new number on a display node",
        f"One mosquitto on 127.0.0.1, one `fdc publisher` process (a Bamboo simulator polled every "
        f"{sizes.poll_interval:g} s, and `webhooks:`), one `fdc display --driver dummy` process. {sizes.pushes} "
        "pushes of a Friday deployment, each a week later than the last, timed from just before the POST to the "
        "node's `showing` report of the new number (published right after the frame is drawn), 100 ms apart. Baseline, "
        "same run: "
        f"{sizes.polled_rounds} such deployments appearing in Bamboo at a random moment of the poll cycle, timed "
        "until the node shows them; and the same path at the default `poll_interval` of 5 minutes (a deployment "
        "lands at a uniformly random moment of the cycle, so it waits U(0, 300 s) plus the poll).",
    )
    rep.header = ["path", "samples", "missed", "p50", "p99", "max", "p50 ratio to 5-min poll"]
    total = sizes.pushes + sizes.polled_rounds + 1
    shown: dict[int, float] = {}
    bare: dict[int, float] = {}  # `weeks` at a bare subscriber: the publisher's part of the time
    lock = threading.Lock()

    def on_weeks(payload: bytes, t: float) -> None:
        if payload.isdigit():
            with lock:
                bare.setdefault(int(payload), t)

    def on_showing(payload: bytes, t: float) -> None:
        value = json.loads(payload).get("value")
        if isinstance(value, int):
            with lock:
                shown.setdefault(value, t)

    procs: list[Any] = []
    posted: list[float] = []
    starts_of: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fdc-bench-push-") as tmp:
        work = Path(tmp)
        broker = Broker(work / "broker", extra_config="set_tcp_nodelay true")
        broker.start()
        sim = BambooSim(token=BAMBOO_TOKEN).start()
        watcher: Client | None = None
        weeks_watcher: Client | None = None
        try:
            env = sim.add_env("Payments", "Production")
            start = _friday(total)
            sim.deploy(env, start, start + timedelta(minutes=9))
            port = free_port()
            cfg = work / "publisher.yaml"
            cfg.write_text(
                f"timezone: Europe/Berlin\npoll_interval: {sizes.poll_interval}\nstate_file: {work / 'state.json'}\n"
                f"bamboo: {{url: '{sim.url}', timeout: 3}}\nmqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
                f"homeassistant: {{enabled: false}}\nwebhooks: {{listen: '127.0.0.1:{port}', token: {TOKEN}}}\n"
            )
            display = work / "display.yaml"
            display.write_text(
                f"node_id: {NODE}\nmqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
                "display: {driver: dummy, cascaded: 4}\n"
            )
            watcher = Client(broker, f"friday-deploy/displays/{NODE}/showing", on_showing)
            watcher.wait_ready()
            weeks_watcher = Client(broker, "friday-deploy/weeks", on_weeks)
            weeks_watcher.wait_ready()
            environ = {**os.environ, "FDC_BAMBOO_TOKEN": BAMBOO_TOKEN, "PYTHONPATH": str(Path(__file__).parents[1])}
            procs.append(spawn_fdc("--log-level", "warning", "publisher", "-c", str(cfg), env=environ))
            procs.append(spawn_fdc(*display_command(display)[3:], env=environ))
            wait_until(lambda: total in shown, 60, f"the node to show {total}")
            session = requests.Session()
            url = f"http://127.0.0.1:{port}/api/v1/deployments"

            def pusher(weeks: int) -> Any:
                def act() -> float:
                    t0 = time.perf_counter()
                    f = _friday(weeks)
                    body = {"id": f"bench-{weeks}", "project": "Payments", "environment": "Production",
                            "started": f.isoformat(), "finished": (f + timedelta(minutes=5)).isoformat()}  # fmt: skip
                    r = session.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
                    posted.append(time.perf_counter() - t0)
                    starts_of.append(t0)
                    assert r.status_code == 202 and r.json()["weeks"] == weeks, r.text
                    return t0

                return act

            def deployer(weeks: int) -> Any:
                def act() -> float:
                    time.sleep(random.uniform(0, sizes.poll_interval))  # a random moment of the poll cycle
                    t0 = time.perf_counter()
                    f = _friday(weeks)
                    sim.deploy(env, f, f + timedelta(minutes=5))
                    return t0

                return act

            pushed = [_round(w, shown, lock, pusher(w), 10) for w in range(total - 1, total - 1 - sizes.pushes, -1)]
            polled = [
                _round(w, shown, lock, deployer(w), sizes.poll_interval * 3 + 10)
                for w in range(total - 1 - sizes.pushes, 0, -1)
            ]
        finally:
            stop_all(procs)
            for c in (watcher, weeks_watcher):
                if c is not None:
                    c.close()
            sim.stop()
            broker.stop()
    push_lat = [t for t in pushed if t is not None]
    poll_lat = [t for t in polled if t is not None]
    p50, p99 = percentile(push_lat, 50), percentile(push_lat, 99)
    default50, default99 = DEFAULT_POLL * 0.50, DEFAULT_POLL * 0.99
    rep.table.append(["push (`POST /api/v1/deployments`)", str(len(push_lat)), str(len(pushed) - len(push_lat)),
                      ms(p50), ms(p99), ms(max(push_lat)), ratio(p50, default50)])  # fmt: skip
    starts = dict(zip(range(total - 1, total - 1 - sizes.pushes, -1), starts_of, strict=True))
    at_bare = [bare[w] - t0 for w, t0 in starts.items() if w in bare and bare[w] >= t0]
    rep.table.append(["push: POST → `weeks` at a bare subscriber", str(len(at_bare)), str(len(starts) - len(at_bare)),
                      ms(percentile(at_bare, 50)), ms(percentile(at_bare, 99)), ms(max(at_bare)), "–"])  # fmt: skip
    rep.table.append(["push: the POST alone (until its `202`, after the state file is saved)", str(len(posted)), "0",
                      ms(percentile(posted, 50)), ms(percentile(posted, 99)), ms(max(posted)), "–"])  # fmt: skip
    rep.table.append([f"polled, `poll_interval: {sizes.poll_interval:g}` (measured)", str(len(poll_lat)),
                      str(len(polled) - len(poll_lat)), ms(percentile(poll_lat, 50)), ms(percentile(poll_lat, 99)),
                      ms(max(poll_lat)), ratio(percentile(poll_lat, 50), default50)])  # fmt: skip
    rep.table.append(["polled, `poll_interval: 5m` (the default; expected from the measured row)", "–", "–",
                      f"{default50:g} s", f"{default99:g} s", f"{DEFAULT_POLL:g} s", "1×"])  # fmt: skip
    rep.goals.append(
        Goal(
            f"p99 under {GOAL_P99 * 1000:g} ms on loopback, POST → the node shows the new number",
            p99 < GOAL_P99 and len(push_lat) == len(pushed),
            f"p99 {ms(p99)} over {len(push_lat)} pushes, {len(pushed) - len(push_lat)} missed; "
            f"{default50 / p50:,.0f}× sooner than a 5-minute poll at p50",
        )
    )
    rep.notes.append(
        "The push path: the receiver parses and checks the body, folds it into the state, publishes `weeks` and "
        "`state` at once, then saves the state file and answers `202`; the node's frame usually comes before the "
        "`202`. The polled path waits for the next poll, whatever the poll interval."
    )
    rep.facts.update(pushed=pushed, polled=polled, posted=posted, shown=sorted(shown), total=total)
    return rep
