"""Web display: a retained publish of `weeks` → the new number in a real browser's DOM, and `fdc web` at rest.

One mosquitto on 127.0.0.1, one `fdc web` process, one headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium with both paths given, so Selenium Manager fetches nothing) showing the
page. A MutationObserver in the page stamps the moment the number's text changes (wall clock, like the
publisher side), so the browser is not polled on the timed path. Baseline, same broker: one in-process display
node with the dummy driver (what a MAX7219 node does), publish → frame, as the fan-out bench measures it.

Also here: `open_chromium`, which the tests and `make pictures` use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fanout import _values, measure
from benchmarks.nodes import WEEKS, Client
from benchmarks.util import Report, cpu_seconds, kb, ms, percentile, ratio, rss_bytes, stop_all
from tests.broker import Broker, free_port, wait_until
from tests.run_fdc import fdc_command

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
APT = "apt-get install -y chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
TEXT = "return document.getElementById('number').textContent"
OBSERVE = """
window.__seen = {};
var el = document.getElementById('number');
new MutationObserver(function () {
  var t = el.textContent;
  if (!(t in window.__seen)) window.__seen[t] = performance.timeOrigin + performance.now();
}).observe(el, {childList: true, characterData: true, subtree: true});
"""


def chromium_missing() -> str | None:
    """None when the browser and its driver are installed, else the sentence to skip (or fail in CI) with."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is missing: install Debian's headless browser with `{APT}` (.ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: .venv/bin/pip install -e '.[dev]'"
    return None


@contextmanager
def open_chromium(width: int = 1280, height: int = 720) -> Iterator[Any]:
    """A headless Chromium under Selenium with a fresh profile, removed afterwards; nothing is downloaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fdc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def write_web_config(path: Path, broker: Broker, port: int, node_id: str = "web", stale_after: float = 1800) -> Path:
    path.write_text(
        f"node_id: {node_id}\nstale_after: {stale_after}\nstate_file: {path.parent / (node_id + '-state.json')}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}}}\nweb: {{listen: 127.0.0.1:{port}}}\n"
    )
    return path


def serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(r.read() == b"ok")
    except OSError:
        return False


def _seen(browser: Any, value: int, timeout: float = 10.0) -> float | None:
    """When the page's observer saw `value` (epoch ms), or None if it did not appear within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = browser.execute_script("return window.__seen[arguments[0]]", str(value))
        if t is not None:
            return float(t)
        time.sleep(0.005)
    return None


@dataclass(frozen=True)
class WebSizes:
    rounds: int = 50
    idle: float = 10.0  # seconds `fdc web` is watched at rest, one page open


def run(sizes: WebSizes = WebSizes()) -> Report:
    rep = Report(
        "Web display: publish → the number in the browser",
        __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    )
    rep.header = ["path", "samples", "missed", "p50", "p99", "max", "p50 ratio to MAX7219 node"]
    values = _values(sizes.rounds)
    procs: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="fdc-bench-web-") as tmp:
        work = Path(tmp)
        broker = Broker(work / "broker", extra_config="set_tcp_nodelay true")
        broker.start()
        pub = Client(broker)
        try:
            base, base_missed = measure(broker, "nodes", 1, sizes.rounds)
            port = free_port()
            cfg = write_web_config(work / "web.yaml", broker, port)
            with (work / "web.log").open("wb") as err:
                web = subprocess.Popen(fdc_command("--log-level", "warning", "web", "-c", str(cfg)), stderr=err)
            procs.append(web)
            wait_until(lambda: serving(port), 30, "fdc web to serve its page")
            pub.wait_ready()
            pub.publish(WEEKS, b"0").wait_for_publish(10)
            latencies: list[float] = []
            missed = 0
            with open_chromium() as browser:
                browser.get(f"http://127.0.0.1:{port}/")
                wait_until(lambda: browser.execute_script(TEXT) == "0", 30, "the page to show 0")
                browser.execute_script(OBSERVE)
                for v in values:
                    t0 = time.time() * 1000
                    pub.publish(WEEKS, str(v).encode())
                    seen = _seen(browser, v)
                    if seen is None:
                        missed += 1
                    else:
                        latencies.append((seen - t0) / 1000)
                # at rest: one page open, nothing published
                cpu0, t_idle = cpu_seconds(web.pid), time.monotonic()
                time.sleep(sizes.idle)
                idle_cpu = (cpu_seconds(web.pid) - cpu0) / (time.monotonic() - t_idle)
                idle_rss = rss_bytes(web.pid)
        finally:
            pub.close()
            stop_all(procs)
            broker.stop()

    p50_base = percentile(base, 50) if base else 0.0
    for name, lat, miss in (
        ("MAX7219 node (dummy driver, in-process): publish → frame", base, base_missed),
        ("`fdc web` + headless Chromium: publish → number in the DOM", latencies, missed),
    ):
        if lat:
            p50 = percentile(lat, 50)
            rep.table.append(
                [name, str(len(lat)), str(miss), ms(p50), ms(percentile(lat, 99)), ms(max(lat)), ratio(p50, p50_base)]
            )
    rep.notes.append(
        f"`fdc web` at rest with one page open, over {sizes.idle:g} s: RSS {kb(idle_rss)}, CPU {idle_cpu * 100:.2f} %"
    )
    rep.facts.update(
        {
            "rounds": len(values),
            "web_samples": len(latencies),
            "web_missed": missed,
            "baseline_samples": len(base),
            "baseline_missed": base_missed,
            "idle_rss": idle_rss,
            "idle_cpu": idle_cpu,
            "web_p50": percentile(latencies, 50) if latencies else None,
            "web_p99": percentile(latencies, 99) if latencies else None,
        }
    )
    return rep
