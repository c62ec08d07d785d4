"""Fan-out: one retained publish of `weeks` to N display nodes through mosquitto, publish → rendered frame.

In-process nodes (dummy driver) timestamp the frame in the panel's `after_show` hook: the moment the frame
for the new value reached the device. Subprocess nodes (`fdc display --driver dummy`) are timed at their
`<prefix>/displays/<id>/showing` report, which the node publishes right after drawing: one more broker hop.
Baseline, same run, same broker: N bare paho subscribers timing the same publish at `on_message`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.nodes import WEEKS, Client, NodeSwarm, display_command, write_display_config
from benchmarks.util import Goal, Report, ms, percentile, ratio, stop_all
from display_node.render import render
from tests.broker import Broker, wait_until

GOAL_NODES, GOAL_P99 = 100, 0.050
# paho's network loop uses select(), which cannot watch file descriptors above 1023, and each client holds 3
# (its socket and a wake-up socket pair): one process tops out near 340 clients. So nodes run 250 to a process.
PER_PROCESS = 250
NODELAY = "set_tcp_nodelay true"  # as in mosquitto/mosquitto.conf


@dataclass(frozen=True)
class FanoutSizes:
    in_process: tuple[int, ...] = (10, 100, 500)
    subprocesses: int = 10
    rounds: int = 20
    nagle_rows: tuple[int, ...] = (10, 100)  # node counts also measured on a broker without set_tcp_nodelay
    split: int = 25  # the goal's node count is also measured this many nodes to a process (0: skip)
    showing_rounds: int = 20  # one node, publish → `showing`, with and without TCP_NODELAY on its socket (0: skip)


def _values(rounds: int) -> list[int]:
    return list(range(1, 1 + min(rounds, 98)))  # distinct, two digits at most: fits 2 blocks without '+'


def _rounds(pub: Client, rounds: int, arrived: Any, timeout: float = 60) -> tuple[list[float], int]:
    """Publish each value; `arrived(value, t0)` returns arrival times so far. Returns latencies and misses."""
    latencies: list[float] = []
    missed = 0
    for v in _values(rounds):
        t0 = time.perf_counter()
        pub.publish(WEEKS, str(v).encode())
        deadline = time.monotonic() + timeout
        times: list[float | None] = []
        while time.monotonic() < deadline:
            times = arrived(v, t0)
            if all(t is not None for t in times):
                break
            time.sleep(0.002)
        latencies += [t - t0 for t in times if t is not None]
        missed += sum(t is None for t in times)
        time.sleep(0.05)  # let the system settle between rounds
    return latencies, missed


def _worker(host: str, port: int, kind: str, first: int, n: int, values: list[int], out: Any, stop: Any) -> None:
    """Runs in a child process: n nodes (or bare subscribers) reporting (index, value, perf_counter) to `out`.

    perf_counter is CLOCK_MONOTONIC on Linux, one clock for every process, so the parent can subtract.
    """
    logging.getLogger("fdc").setLevel(logging.ERROR)  # each node's clean stop logs a "lost the broker" warning
    broker = Broker(Path("."), port=port, host=host)
    if kind == "nodes":
        frames = {render(v, 16).tobytes(): v for v in values}
        swarm = NodeSwarm(broker, n, prefix=f"bench-{first}")

        def sink(i: int) -> Any:
            return lambda t, data: out.put((first + i, frames.get(data), t))

        for i, rec in enumerate(swarm.frames):
            rec.sink = sink(i)
        swarm.start()
        stop.wait(3600)
        swarm.stop()
        return

    def handler(i: int) -> Any:
        return lambda payload, t: out.put((first + i, int(payload), t))

    clients = [Client(broker, WEEKS, handler(i)) for i in range(n)]
    stop.wait(3600)
    for c in clients:
        c.close()


class Fleet:
    """n nodes (or bare subscribers) spread over child processes of at most PER_PROCESS each."""

    def __init__(self, broker: Broker, kind: str, n: int, values: list[int], per_process: int = PER_PROCESS) -> None:
        ctx = mp.get_context("spawn")
        self.n = n
        self.out = ctx.Queue()
        self.stop = ctx.Event()
        self.arrivals: dict[tuple[int, int], list[float]] = {}
        self.lock = threading.Lock()
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(broker.host, broker.port, kind, first, min(per_process, n - first), values, self.out, self.stop),
                daemon=True,
            )
            for first in range(0, n, per_process)
        ]
        for p in self.procs:
            p.start()
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self) -> None:
        while True:
            try:
                item = self.out.get(timeout=0.2)
            except queue.Empty:
                if self.stop.is_set():
                    return
                continue
            i, value, t = item
            if value is not None:
                with self.lock:
                    self.arrivals.setdefault((i, value), []).append(t)

    def arrived(self, value: int, t0: float) -> list[float | None]:
        with self.lock:
            return [next((t for t in self.arrivals.get((i, value), []) if t >= t0), None) for i in range(self.n)]

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(120)
            if p.is_alive():
                p.kill()
                p.join(5)
        self.drain.join(5)


def measure(broker: Broker, kind: str, n: int, rounds: int, per_process: int = PER_PROCESS) -> tuple[list[float], int]:
    """Latencies publish → frame (nodes) or → on_message (bare), and how many never arrived."""
    values = _values(rounds)
    fleet = Fleet(broker, kind, n, [0, *values], per_process)
    pub = Client(broker)
    try:
        pub.wait_ready()
        pub.publish(WEEKS, b"0").wait_for_publish(10)
        wait_until(lambda: None not in fleet.arrived(0, 0), 120, f"all {n} {kind} to get the retained value")
        return _rounds(pub, rounds, fleet.arrived)
    finally:
        pub.close()
        fleet.close()


def showing_latency(broker: Broker, rounds: int, node_nodelay: bool) -> tuple[list[float], int]:
    """One node in this process, timed at its `showing` report; optionally with TCP_NODELAY on its socket."""
    got: dict[int, float] = {}
    lock = threading.Lock()

    def on_showing(payload: bytes, t: float) -> None:
        value = json.loads(payload).get("value")
        if isinstance(value, int):
            with lock:
                got.setdefault(value, t)

    swarm = NodeSwarm(broker, 1, prefix=f"showing-{int(node_nodelay)}")
    if node_nodelay:
        swarm.nodes[0].link.client.on_socket_open = lambda c, u, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
    watcher = Client(broker, f"friday-deploy/displays/showing-{int(node_nodelay)}-0/showing", on_showing)
    pub = Client(broker)
    try:
        watcher.wait_ready()
        pub.wait_ready()
        pub.publish(WEEKS, b"0").wait_for_publish(10)
        swarm.start()
        wait_until(lambda: 0 in got, 30, "the node to report showing 0")

        def arrived(v: int, t0: float) -> list[float | None]:
            with lock:
                t = got.get(v)
            return [t if t is not None and t >= t0 else None]

        return _rounds(pub, rounds, arrived)
    finally:
        pub.close()
        watcher.close()
        swarm.stop()


def subprocess_nodes(broker: Broker, n: int, rounds: int, workdir: Path) -> tuple[list[float], int]:
    """n `fdc display` processes; timed at their `showing` report."""
    showing: dict[str, dict[int, float]] = {f"sub-{i}": {} for i in range(n)}
    lock = threading.Lock()
    topic_of = {f"friday-deploy/displays/sub-{i}/showing": f"sub-{i}" for i in range(n)}

    watcher = Client(broker, "friday-deploy/displays/+/showing")

    def on_topic(c: object, u: object, msg: object) -> None:
        t = time.perf_counter()
        node = topic_of.get(msg.topic)  # type: ignore[attr-defined]
        if node is None:
            return
        value = json.loads(bytes(msg.payload)).get("value")  # type: ignore[attr-defined]
        if isinstance(value, int):
            with lock:
                showing[node].setdefault(value, t)

    watcher.client.on_message = on_topic
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs: list[subprocess.Popen[bytes]] = []
    pub = Client(broker)
    try:
        watcher.wait_ready()
        pub.wait_ready()
        pub.publish(WEEKS, b"0").wait_for_publish(10)
        for i in range(n):
            cfg = write_display_config(workdir / f"sub-{i}.yaml", broker, f"sub-{i}")
            procs.append(subprocess.Popen(display_command(cfg), env=env, stderr=subprocess.DEVNULL))
        wait_until(lambda: all(0 in s for s in showing.values()), 60, f"all {n} subprocess nodes to show 0")

        def arrived(v: int, t0: float) -> list[float | None]:
            with lock:
                return [s.get(v) if (s.get(v) or 0) >= t0 else None for s in showing.values()]

        return _rounds(pub, rounds, arrived)
    finally:
        pub.close()
        watcher.close()
        stop_all(procs)


def run(sizes: FanoutSizes = FanoutSizes()) -> Report:
    rep = Report(
        "Fan-out: publish → rendered frame",
        f"One mosquitto on 127.0.0.1; {sizes.rounds} retained QoS 1 publishes of `weeks`, 50 ms apart. Latency is "
        "from the `publish()` call to the frame with the new number reaching each node's panel (Node instances "
        "with the dummy driver, each with its own render thread and MQTT connection, up to 250 in one Python "
        "process, timed with the system-wide monotonic clock) or to each node's `showing` report "
        "(subprocess nodes: `fdc display --driver dummy`). Baseline: the same number of bare paho subscribers "
        "timed at `on_message`, measured in the same run; ratio = nodes / bare. The broker runs with "
        "`set_tcp_nodelay true`, as the project's mosquitto/mosquitto.conf does; one row shows mosquitto's default.",
    )
    rep.header = ["nodes", "samples", "missed", "p50", "p99", "bare p50", "bare p99", "p50 ratio", "p99 ratio"]
    cases: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="fdc-bench-fanout-") as tmp:
        # The project's mosquitto.conf sets set_tcp_nodelay; one extra row shows mosquitto's default (Nagle on).
        for nodelay in (True, False):
            broker = Broker(Path(tmp) / f"broker-{nodelay}", extra_config=NODELAY if nodelay else "")
            broker.start()
            try:
                for n in sizes.in_process if nodelay else [m for m in sizes.in_process if m in sizes.nagle_rows]:
                    base, base_missed = measure(broker, "bare", n, sizes.rounds)
                    lat, missed = measure(broker, "nodes", n, sizes.rounds)
                    cases.append({"kind": "in-process", "n": n, "nodelay": nodelay, "lat": lat, "missed": missed,
                                  "base": base, "base_missed": base_missed, "per": min(n, PER_PROCESS)})  # fmt: skip
                    if nodelay and n == GOAL_NODES and sizes.split:
                        lat, missed = measure(broker, "nodes", n, sizes.rounds, per_process=sizes.split)
                        cases.append({"kind": "in-process", "n": n, "nodelay": nodelay, "lat": lat, "missed": missed,
                                      "base": base, "base_missed": base_missed, "per": sizes.split})  # fmt: skip
                if sizes.showing_rounds and nodelay:
                    lat, missed = showing_latency(broker, sizes.showing_rounds, False)
                    base, base_missed = showing_latency(broker, sizes.showing_rounds, True)
                    cases.append({"kind": "showing", "n": 1, "nodelay": nodelay, "lat": lat, "missed": missed,
                                  "base": base, "base_missed": base_missed})  # fmt: skip
                if sizes.subprocesses and nodelay:
                    n = sizes.subprocesses
                    base, base_missed = measure(broker, "bare", n, sizes.rounds)
                    lat, missed = subprocess_nodes(broker, n, sizes.rounds, Path(tmp))
                    cases.append({"kind": "subprocess", "n": n, "nodelay": nodelay, "lat": lat, "missed": missed,
                                  "base": base, "base_missed": base_missed})  # fmt: skip
            finally:
                broker.stop()
    for c in cases:
        lat, base = c["lat"], c["base"]
        assert isinstance(lat, list) and isinstance(base, list)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        b50, b99 = percentile(base, 50), percentile(base, 99)
        c.update(p50=p50, p99=p99, b50=b50, b99=b99)
        if c["kind"] == "in-process":
            procs = -(-int(c["n"]) // int(c["per"]))  # type: ignore[call-overload]
            label = f"{c['n']} nodes in {procs} process{'es' if procs > 1 else ''}"
        elif c["kind"] == "showing":
            label = (
                "1 node, publish → its `showing` report (baseline: the same node with TCP_NODELAY set on its socket "
                "once more by hand; common/mqtt.py sets it, so about 1×)"
            )
        else:
            label = f"{c['n']} `fdc display` subprocesses (at `showing`)"
        if not c["nodelay"]:
            label += ", mosquitto default (Nagle on)"
        rep.table.append([label, str(len(lat)), str(c["missed"]), ms(p50), ms(p99), ms(b50), ms(b99),
                          ratio(p50, b50), ratio(p99, b99)])  # fmt: skip
    rep.facts["cases"] = cases
    at_goal = [
        c for c in cases if c["kind"] == "in-process" and c["n"] == GOAL_NODES and c["nodelay"] and c["per"] >= c["n"]
    ]
    if at_goal:
        c = at_goal[0]
        p99 = float(c["p99"])  # type: ignore[arg-type]
        rep.goals.append(
            Goal(
                f"p99 under {GOAL_P99 * 1000:g} ms at {GOAL_NODES} nodes on loopback",
                p99 < GOAL_P99 and c["missed"] == 0,
                f"p99 {ms(p99)} ({ratio(p99, float(c['b99']))} the bare subscribers' {ms(float(c['b99']))}), "  # type: ignore[arg-type]
                f"{c['missed']} frames missed",
            )
        )

    def find(**kw: object) -> dict[str, Any] | None:
        return next((c for c in cases if all(c.get(k) == v for k, v in kw.items())), None)

    pairs = []
    for n in sizes.nagle_rows:
        on, off = find(kind="in-process", n=n, nodelay=True, per=min(n, PER_PROCESS)), find(n=n, nodelay=False)
        if on and off:
            pairs.append(f"{n} nodes: p50 {ms(on['p50'])} with it, {ms(off['p50'])} without")
    if pairs:
        rep.notes.append(
            "Broker `set_tcp_nodelay` (" + "; ".join(pairs) + "). Without it Nagle's algorithm holds a new `weeks` for "
            "a node that has just published its `showing` report until that node's delayed ACK arrives. Found by "
            "this bench; mosquitto/mosquitto.conf now sets it. With 100 nodes in one process the CPU bound below "
            "hides the difference."
        )
    one, split = find(kind="in-process", n=GOAL_NODES, per=GOAL_NODES), find(kind="in-process", n=GOAL_NODES,
                                                                             per=sizes.split)  # fmt: skip
    if one and split and not (one["p99"] < GOAL_P99):
        rep.notes.append(
            f"What bounds {GOAL_NODES} nodes in one process (p99 {ms(one['p99'])}): one Python interpreter on this "
            f"2-core machine, shared with mosquitto and the publishing client. Each node's update — decode, render, "
            "the `showing` publish and its PUBACK — runs under one GIL, so the last of the frames waits for the work "
            f"of all the others; {GOAL_NODES} bare subscribers in one process already need p99 {ms(one['b99'])} just "
            f"to receive. The same {GOAL_NODES} nodes {sizes.split} to a process reach p99 {ms(split['p99'])}. On the "
            "wall every node is its own process on its own Pi."
        )
    if any(c["kind"] == "in-process" and c["n"] > PER_PROCESS for c in cases):
        rep.notes.append(
            f"Nodes run at most {PER_PROCESS} to a process: paho's network loop uses select(), which cannot watch a "
            "file descriptor above 1023, and each client holds three (its socket and a wake-up socket pair), so "
            "in one process the 340th node and later never connect. Irrelevant on the wall (one node per Pi)."
        )
    sh = find(kind="showing")
    if sh:
        rep.notes.append(
            f"A node's `showing` report follows its frame closely: publish → `showing` p50 {ms(sh['p50'])}, and "
            f"{ms(sh['b50'])} with TCP_NODELAY set on the node's socket by hand as well. Before common/mqtt.py set "
            "TCP_NODELAY on its socket (paho does not), this report waited for the broker's delayed ACK: p50 "
            "44.7 ms. Found by this bench and fixed."
        )
    return rep
