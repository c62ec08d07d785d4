"""Flood: `rate` messages per second into one display node for `seconds` s.

The node runs in this process (dummy driver, every frame counted); the flood comes from a separate process
(paho, QoS 0, paced every 10 ms), through a mosquitto that queues without limit. Values cycle 0..99, so every
message would be a new frame on the 2-block panel if the node drew each one. The last message is a retained
QoS 1 `42`: the value that must be on the panel at the end. Memory is this process's RSS, sampled every 0.5 s;
its baseline is the RSS just before the flood. After the flood the node is left alone for 3 s, and
its CPU and RSS are measured again: a flood must cost nothing once it is over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from benchmarks.nodes import WEEKS, Client, NodeSwarm
from benchmarks.util import Goal, Report, cpu_seconds, ratio, rss_bytes
from display_node.node import FRAME_RATE
from display_node.render import pixels, render
from tests.broker import Broker, wait_until

LAST = 42
FLAT = 2 * 1024 * 1024  # "memory stays flat": the RSS grows by less than this over the flood
SETTLE = 3.0  # seconds of quiet after the flood before the "afterwards" figures

FLOODER = """
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
host, port, topic, last = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[6]
rate, seconds = int(sys.argv[4]), float(sys.argv[5])
c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
c.max_queued_messages_set(0)
c.connect(host, port, keepalive=60)
c.loop_start()
tick = 0.01
per_tick = max(1, round(rate * tick))
sent = 0
t0 = time.monotonic()
end = t0 + seconds
n = 0
while time.monotonic() < end:
    for _ in range(per_tick):
        c.publish(topic, str(n % 100).encode(), qos=0)
        n += 1
    sent += per_tick
    n_ticks = sent // per_tick
    delay = t0 + n_ticks * tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
elapsed = time.monotonic() - t0
info = c.publish(topic, last.encode(), qos=1, retain=True)
info.wait_for_publish(30)
c.disconnect()
c.loop_stop()
print(json.dumps({"sent": sent + 1, "elapsed": elapsed}))
"""


@dataclass(frozen=True)
class FloodSizes:
    rate: int = 10_000
    seconds: float = 10.0


def run(sizes: FloodSizes = FloodSizes()) -> Report:
    rep = Report(
        "Flood",
        f"{sizes.rate:,} messages/s for {sizes.seconds:g} s into one display node. "
        + " ".join((__doc__ or "").split("\n\n")[1].split()),
    )
    with tempfile.TemporaryDirectory(prefix="fdc-bench-flood-") as tmp:
        broker = Broker(Path(tmp) / "broker", extra_config="set_tcp_nodelay true\nmax_queued_messages 0")
        broker.start()
        swarm = NodeSwarm(broker, 1, prefix="flood")
        node, frames = swarm.nodes[0], swarm.frames[0]
        frames.shown = deque(maxlen=8)  # type: ignore[assignment]  # count them, keep only the latest
        pub = Client(broker)
        try:
            pub.wait_ready()
            pub.publish(WEEKS, b"1").wait_for_publish(10)
            swarm.start()
            wait_until(lambda: node.value == 1 and len(frames.shown) > 0, 30, "the node to show 1")
            time.sleep(0.5)
            received0, frames0, resyncs0 = node.received, frames.count, node.resyncs
            rss: list[int] = [rss_bytes()]
            cpu0, t0 = cpu_seconds(), time.monotonic()
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            flooder = subprocess.Popen(
                [sys.executable, "-c", FLOODER, broker.host, str(broker.port), WEEKS, str(sizes.rate),
                 str(sizes.seconds), str(LAST)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            done = threading.Event()

            def watch() -> None:
                while not done.wait(0.5):
                    rss.append(rss_bytes())

            sampler = threading.Thread(target=watch, daemon=True)
            sampler.start()
            out, err = flooder.communicate(timeout=sizes.seconds * 3 + 60)
            if flooder.returncode != 0:
                raise RuntimeError(f"the flood publisher failed: {err.decode()[-500:]}")
            stats = json.loads(out)
            last_frame = render(LAST, 16).tobytes()
            wait_until(lambda: node.value == LAST, 60, f"the node to receive the last value {LAST}")
            wait_until(lambda: frames.shown and frames.shown[-1][1] == last_frame, 30, "the last frame")
            time.sleep(0.5)
            done.set()
            sampler.join(5)
            rss.append(rss_bytes())
            cpu = cpu_seconds() - cpu0
            wall = time.monotonic() - t0
            resyncs = node.resyncs - resyncs0
            received = node.received - received0 - resyncs  # each re-read brings the retained number once more
            renders = frames.count - frames0
            panel_rows = pixels(node.panel.device.image)
            cpu1, t1 = cpu_seconds(), time.monotonic()
            time.sleep(SETTLE)  # the node alone, as after any flood
            cpu_after = (cpu_seconds() - cpu1) / (time.monotonic() - t1)
            rss_after = rss_bytes()
            frames_after = frames.count - frames0 - renders
        finally:
            pub.close()
            swarm.stop()
            broker.stop()
    rate = (stats["sent"] - 1) / stats["elapsed"]
    q = max(1, (len(rss) - 1) // 4)
    growth = max(rss[-q:]) - max(rss[1 : 1 + q])  # the first quarter of the flood to the last
    shown_last = panel_rows == pixels(render(LAST, 16))
    rep.header = ["what", "value", "baseline", "ratio"]
    rep.table += [
        ["messages sent (achieved rate)", f"{stats['sent']:,} ({rate:,.0f}/s)", f"{sizes.rate:,}/s asked",
         ratio(rate, sizes.rate)],
        ["messages the node received", f"{received:,}", f"{stats['sent']:,} sent", ratio(received, stats["sent"])],
        ["frames drawn (renders)", f"{renders:,}", f"{received:,} received", ratio(renders, received)],
        ["RSS of the node's process, max during the flood", f"{max(rss) / 2**20:.1f} MB",
         f"{rss[0] / 2**20:.1f} MB before", ratio(max(rss), rss[0])],
        ["CPU of the node's process during the flood", f"{cpu / wall * 100:.0f} % of one core", "–", "–"],
        ["renders a second during the flood", f"{renders / wall:,.1f}", f"{FRAME_RATE} cap",
         ratio(renders / wall, FRAME_RATE)],
        [f"CPU of the node's process {SETTLE:g} s after the flood", f"{cpu_after * 100:.1f} % of one core", "–", "–"],
        [f"RSS {SETTLE:g} s after the flood", f"{rss_after / 2**20:.1f} MB", f"{rss[0] / 2**20:.1f} MB before",
         ratio(rss_after, rss[0])],
        ["re-reads of the retained number (after bursts)", f"{resyncs}", "–", "–"],
        ["shown at the end", f"{LAST if shown_last else 'something else'}", f"{LAST} sent last", "–"],
    ]  # fmt: skip
    rep.facts.update(
        sent=stats["sent"], rate=rate, received=received, renders=renders, rss=rss, shown_last=shown_last,
        value=node.value, cpu=cpu / wall, cpu_after=cpu_after, rss_after=rss_after, resyncs=resyncs,
        frames_after=frames_after,
    )  # fmt: skip
    rep.goals += [
        Goal(
            "Memory stays flat",
            growth < FLAT,
            f"RSS {growth / 1024:+.0f} KB from the first to the last quarter of the flood "
            f"({len(rss)} samples; {(max(rss) - rss[0]) / 1024:+.0f} KB over the RSS before it)",
        ),
        Goal(
            "Renders are coalesced",
            renders < received,
            f"{renders:,} frames for {received:,} messages ({ratio(renders, received)})",
        ),
        Goal(
            "Renders are rate-capped",
            renders <= FRAME_RATE * wall + 1,
            f"{renders / wall:,.1f} frames/s over {wall:.1f} s (cap {FRAME_RATE}/s)",
        ),
        Goal(
            "Memory returns to its baseline",
            rss_after - rss[0] < FLAT,
            f"RSS {(rss_after - rss[0]) / 1024:+.0f} KB {SETTLE:g} s after the flood, against the RSS before it",
        ),
        Goal(
            "A flood costs nothing once it is over",
            cpu_after < 0.05 and frames_after <= 1,
            f"{cpu_after * 100:.1f} % of one core and {frames_after} frame(s) in the {SETTLE:g} s after it",
        ),
        Goal("The value shown at the end is the last one sent", shown_last, f"the panel shows {LAST}"),
    ]
    rep.notes.append(
        f"Coalescing: paho's thread only decodes and keeps the latest value; the render loop draws at most "
        f"{FRAME_RATE} times a second, so it drew {renders / stats['elapsed']:,.1f} frames/s, each with the newest "
        "value at the time, and never queued one. Memory is flat because nothing per message is kept. The CPU "
        "during the flood is paho decoding messages (a flood of small messages costs that much in any client); "
        "the frames are a small part of it."
    )
    if rate < 0.9 * sizes.rate:
        rep.notes.append(
            f"The flood publisher reached {rate:,.0f} messages/s, not {sizes.rate:,}: one Python paho client "
            "sharing 2 cores with mosquitto and the node is the bound."
        )
    return rep
