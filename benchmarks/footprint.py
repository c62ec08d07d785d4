"""Display footprint: an idle `fdc display` process's RSS and CPU, and render time per frame through luma's max7219.

Idle: one `fdc display --driver dummy` subprocess, connected, showing a retained number, sampled from /proc
every second. Baseline, sampled side by side: a bare paho subscriber process (Python + paho, connected and
subscribed to the same topic), the least any MQTT display in Python could be.

Render: the node's own path for a new number (layout + draw, then `Panel.show`) on 1, 2, 4 and 8 blocks, through
luma's real max7219 driver writing to a recording SPI interface (tests/display_spi.py). Baseline: the same
frames through luma's dummy device, which keeps the image and talks to no bus.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.nodes import WEEKS, Client, display_command, write_display_config
from benchmarks.util import Goal, Report, cpu_seconds, ms, percentile, ratio, rss_bytes, stop_all
from display_node.config import DisplaySettings
from display_node.drivers import open_panel
from display_node.render import render
from tests.broker import Broker, wait_until
from tests.display_spi import RecordingSerial

RSS_GOAL = 40 * 1024 * 1024
CPU_GOAL = 0.01
GROWTH_LIMIT = 512 * 1024  # "no growth": less than this between the first and the last quarter of the window

BARE = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
c.on_connect = lambda c, u, f, rc, p: c.subscribe(sys.argv[3], qos=1)
c.connect(sys.argv[1], int(sys.argv[2]), keepalive=30)
c.loop_start()
time.sleep(float(sys.argv[4]))
"""


@dataclass(frozen=True)
class FootprintSizes:
    idle_seconds: float = 60.0
    settle_seconds: float = 5.0
    blocks: tuple[int, ...] = (1, 2, 4, 8)
    frames: int = 2000


@dataclass
class Samples:
    rss: list[int]
    cpu: float  # seconds of CPU over the window
    wall: float

    @property
    def growth(self) -> int:
        q = max(1, len(self.rss) // 4)
        return max(self.rss[-q:]) - max(self.rss[:q])


def sample(pids: list[int], seconds: float) -> list[Samples]:
    start_cpu = [cpu_seconds(p) for p in pids]
    t0 = time.monotonic()
    rss: list[list[int]] = [[] for _ in pids]
    deadline = t0 + seconds
    while True:
        for i, p in enumerate(pids):
            rss[i].append(rss_bytes(p))
        if time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    wall = time.monotonic() - t0
    return [Samples(r, cpu_seconds(p) - c, wall) for r, p, c in zip(rss, pids, start_cpu, strict=True)]


def idle(sizes: FootprintSizes) -> tuple[Samples, Samples]:
    with tempfile.TemporaryDirectory(prefix="fdc-bench-footprint-") as tmp:
        broker = Broker(Path(tmp) / "broker", extra_config="set_tcp_nodelay true")
        broker.start()
        procs: list[subprocess.Popen[bytes]] = []
        pub = Client(broker, "friday-deploy/displays/idle/showing")
        shown: list[bytes] = []
        pub.client.on_message = lambda c, u, m: shown.append(bytes(m.payload))
        try:
            pub.wait_ready()
            pub.publish(WEEKS, b"12").wait_for_publish(10)
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            cfg = write_display_config(Path(tmp) / "idle.yaml", broker, "idle")
            node = subprocess.Popen(display_command(cfg), env=env, stderr=subprocess.DEVNULL)
            procs.append(node)
            total = sizes.settle_seconds + sizes.idle_seconds + 30
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE, broker.host, str(broker.port), WEEKS, str(total)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            procs.append(bare)
            wait_until(lambda: any(b'"value": 12' in p or b'"value":12' in p for p in shown), 30, "the node to show 12")
            time.sleep(sizes.settle_seconds)
            node_s, bare_s = sample([node.pid, bare.pid], sizes.idle_seconds)
            assert node.poll() is None, "the display node exited during the idle window"
            return node_s, bare_s
        finally:
            pub.close()
            stop_all(procs)
            broker.stop()


def frame_times(driver: str, blocks: int, frames: int) -> tuple[list[float], int]:
    """Seconds per new-number frame (render + show), and SPI bytes per frame for max7219."""
    serial = RecordingSerial()
    settings = DisplaySettings(driver=driver, cascaded=blocks, block_orientation=-90)
    panel = open_panel(settings, serial=serial if driver == "max7219" else None)
    width, height = panel.size
    top = 10 ** min(blocks + 1, 6)
    times: list[float] = []
    spi = 0
    for i in range(frames):
        serial.frames.clear()
        t = time.perf_counter()
        panel.show(render(i % top, width, height))
        times.append(time.perf_counter() - t)
        spi = sum(len(f) for f in serial.frames)
    return times, spi


def run(sizes: FootprintSizes = FootprintSizes()) -> Report:
    rep = Report(
        "Display footprint",
        f"Idle: an `fdc display --driver dummy` subprocess, connected and showing a retained number, sampled "
        f"every second for {sizes.idle_seconds:g} s after {sizes.settle_seconds:g} s to settle (RSS from "
        "/proc/PID/status, CPU = user+system time / wall time). Baseline: a bare paho subscriber process sampled "
        f"in the same window. Render: {sizes.frames} new-number frames per size (layout + draw + "
        "`Panel.show`) through luma's real max7219 driver onto a recording SPI interface; baseline: the same "
        "frames on luma's dummy device. Ratio = node / baseline.",
    )
    node, bare = idle(sizes)
    rep.header = ["what", "value", "baseline", "ratio"]
    rep.table += [
        ["idle node RSS (max)", f"{max(node.rss) / 2**20:.1f} MB", f"{max(bare.rss) / 2**20:.1f} MB (bare paho)",
         ratio(max(node.rss), max(bare.rss))],
        ["idle node RSS growth (last quarter − first quarter)", f"{node.growth / 1024:+.0f} KB",
         f"{bare.growth / 1024:+.0f} KB", "–"],
        ["idle node CPU", f"{node.cpu / node.wall * 100:.3f} %", f"{bare.cpu / bare.wall * 100:.3f} %",
         ratio(node.cpu, bare.cpu) if bare.cpu else "–"],
    ]  # fmt: skip
    renders: dict[int, dict[str, float]] = {}
    for blocks in sizes.blocks:
        m, spi = frame_times("max7219", blocks, sizes.frames)
        d, _ = frame_times("dummy", blocks, sizes.frames)
        renders[blocks] = {"p50": percentile(m, 50), "p99": percentile(m, 99), "d50": percentile(d, 50), "spi": spi}
        rep.table.append(
            [f"frame on {blocks} block{'s' if blocks > 1 else ''}: p50 / p99 (max7219, {spi} SPI bytes)",
             f"{ms(percentile(m, 50))} / {ms(percentile(m, 99))}",
             f"{ms(percentile(d, 50))} / {ms(percentile(d, 99))} (dummy)",
             ratio(percentile(m, 50), percentile(d, 50))]
        )  # fmt: skip
    rep.facts.update(node=node, bare=bare, renders=renders)
    cpu = node.cpu / node.wall
    rep.goals += [
        Goal("Idle RSS under 40 MB", max(node.rss) < RSS_GOAL, f"{max(node.rss) / 2**20:.1f} MB"),
        Goal("Idle CPU under 1 %", cpu < CPU_GOAL, f"{cpu * 100:.3f} % over {node.wall:.0f} s"),
        Goal(
            "No growth while idle",
            node.growth < GROWTH_LIMIT,
            f"{node.growth / 1024:+.0f} KB between the first and last quarter of {len(node.rss)} samples",
        ),
    ]
    return rep
