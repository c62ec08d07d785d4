"""`fdc web` as a real process against a real broker, its page in a real browser (Debian's headless Chromium
under Selenium): the number drawn pixel for pixel as the LED matrix draws it, a live change, the record and the
deployment from the state, stale when the publisher goes offline, and a reconnect after the node restarts,
all without reloading the page."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.web_display import chromium_missing, open_chromium, serving, write_web_config
from common.payloads import OFFLINE, ONLINE
from display_node.render import pixels, render
from tests.broker import Broker, Recorder, free_port, wait_until
from tests.display_helpers import publish, showing
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]
WEEKS_1234 = ("-t", "friday-deploy/weeks", "-m", "1234")
STATE = {
    "weeks": 42,
    "counted_from": "2026-02-13",
    "since": "deploy",
    "last_friday_deploy": {
        "project": "Payments",
        "environment": "Production",
        "version": "release-42",
        "state": "SUCCESS",
        "started": "2026-02-13T16:42:10+01:00",
        "finished": "2026-02-13T16:51:02+01:00",
    },
    "record": {"weeks": 50, "from": "2025-01-10", "until": "2025-12-26"},
    "friday_deploys_last_365_days": 4,
}


def need_chromium() -> None:
    missing = chromium_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the browser tests cannot run: {missing}")
    pytest.skip(missing)


class WebNode:
    """`fdc web` in the background; `restart()` stops it and starts it again on the same port."""

    def __init__(self, broker: Broker, tmp: Path) -> None:
        self.port = free_port()
        self.config = write_web_config(tmp / "web.yaml", broker, self.port, node_id="lobby", stale_after=0.5)
        self.log = tmp / "web.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                fdc_command("web", "-c", str(self.config)),
                stderr=err,
                cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_until(lambda: serving(self.port), 30, "fdc web to serve its page")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def web(broker: Broker, tmp_path: Path) -> Iterator[WebNode]:
    need_chromium()
    node = WebNode(broker, tmp_path)
    node.start()
    yield node
    if node.proc is not None and node.proc.poll() is None:
        node.proc.kill()
        node.proc.wait(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    need_chromium()
    with open_chromium() as driver:
        yield driver


def page(browser: Any) -> dict[str, Any]:
    """What the page shows, read from its DOM: the number's text, the lit LEDs as rows, the sentences."""
    got: dict[str, Any] = browser.execute_script(
        """
        var rows = [], cs = document.querySelectorAll('#matrix circle');
        cs.forEach(function (c) {
          var x = +c.getAttribute('data-x'), y = +c.getAttribute('data-y');
          while (rows.length <= y) rows.push('');
          rows[y] = rows[y].padEnd(x, '?') + (c.getAttribute('class') === 'on' ? '#' : '.');
        });
        function text(id) {
          var e = document.getElementById(id);
          return getComputedStyle(e).display === 'none' ? '' : e.textContent;
        }
        return {number: document.getElementById('number').textContent, rows: rows, words: text('words'),
                record: text('record'), deploy: text('deploy'), year: text('year'), stale: text('stale'),
                link: text('link'), classes: document.body.className, marker: window.fdcTestMarker || null};
        """
    )
    return got


def test_the_page_follows_the_number_the_state_and_staleness_without_a_reload(
    broker: Broker, web: WebNode, browser: Any
) -> None:
    rec = Recorder(broker, "friday-deploy/displays/lobby/#")
    try:
        publish(broker, "friday-deploy/weeks", b"42")
        publish(broker, "friday-deploy/state", json.dumps(STATE).encode())
        publish(broker, "friday-deploy/status", ONLINE)
        browser.get(web.url)
        wait_until(lambda: page(browser)["number"] == "42", 10, "42 on the page")
        browser.execute_script("window.fdcTestMarker = 'same page'")
        wait_until(lambda: page(browser)["record"] != "", 10, "the record on the page")
        now = page(browser)
        assert now["rows"] == pixels(render(42, 16, align="center"))  # the LED matrix's own frame, two blocks
        assert now["words"] == "weeks since a Friday deployment"
        assert now["record"] == "Record: 50 weeks, from Friday 10 January 2025 to Friday 26 December 2025"
        assert now["deploy"] == (
            "Last Friday deployment: Payments → Production (release-42), Friday 13 February 2026, 16:42"
        )
        assert now["year"] == "Friday deployments in the last 365 days: 4"
        assert (now["stale"], now["link"]) == ("", "")
        # a display node like the others: its own status and showing
        assert rec.wait_for("friday-deploy/displays/lobby/status") == ONLINE
        rec.wait_for("friday-deploy/displays/lobby/showing", lambda p: showing(p)["value"] == 42)

        # a live change, as people test it; 1234 needs four blocks
        subprocess.run(
            [*("mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-r"), *WEEKS_1234],
            check=True,
            timeout=10,
        )
        wait_until(lambda: page(browser)["number"] == "1234", 10, "1234 on the page")
        assert page(browser)["rows"] == pixels(render(1234, 32, align="center"))

        # a state without a record (no run yet): the page says nothing about a record
        publish(broker, "friday-deploy/state", json.dumps({**STATE, "record": None}).encode())
        wait_until(lambda: page(browser)["record"] == "", 10, "the record gone")
        assert page(browser)["deploy"].startswith("Last Friday deployment: Payments → Production")

        # a bad state is ignored: the page keeps what it had
        publish(broker, "friday-deploy/state", b"\xff not json")
        publish(broker, "friday-deploy/weeks", b"43")
        wait_until(lambda: page(browser)["number"] == "43", 10, "43 on the page")
        assert page(browser)["deploy"].startswith("Last Friday deployment: Payments")

        # the publisher goes offline for over stale_after: stale on the page, the number stays
        publish(broker, "friday-deploy/status", OFFLINE)
        wait_until(lambda: "stale" in page(browser)["classes"].split(), 10, "the page marked stale")
        assert page(browser)["stale"] == "Stale: the publisher has been offline for over 0.5 s"
        assert page(browser)["number"] == "43"
        publish(broker, "friday-deploy/status", ONLINE)
        wait_until(lambda: page(browser)["stale"] == "", 10, "stale gone")
        assert page(browser)["marker"] == "same page", "the page was reloaded"
    finally:
        rec.close()


def test_the_page_reconnects_by_itself_after_the_node_restarts(broker: Broker, web: WebNode, browser: Any) -> None:
    publish(broker, "friday-deploy/weeks", b"7")
    browser.get(web.url)
    wait_until(lambda: page(browser)["number"] == "7", 10, "7 on the page")
    assert page(browser)["rows"] == pixels(render(7, 8, align="center"))  # one block is enough for 7
    browser.execute_script("window.fdcTestMarker = 'same page'")
    assert web.stop() == 0
    wait_until(lambda: "lost" in page(browser)["classes"].split(), 10, "the page noticing the node is gone")
    assert page(browser)["link"] == "no connection to the display node: reconnecting…"
    publish(broker, "friday-deploy/weeks", b"8")
    web.start()
    wait_until(lambda: page(browser)["number"] == "8", 15, "8 on the page after the restart")
    now = page(browser)
    assert (now["marker"], now["link"]) == ("same page", "")
    assert "Traceback" not in web.log.read_text()
