"""`display.driver: awtrix`: `fdc display` as a real process against a real broker, read by a simulated clock
(a client subscribed to `<awtrix prefix>/#`, the topics and JSON the AWTRIX 3 API documents)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.payloads import OFFLINE
from display_node.awtrix import ICON, STALE_COLOR, app_payload, clock_brightness, refresh_every
from display_node.config import Awtrix, load
from tests.broker import Broker, Recorder
from tests.display_helpers import publish, showing
from tests.run_fdc import fdc_command, run_fdc

ROOT = Path(__file__).resolve().parents[1]
CLOCK = "awtrix_1a2b3c"
APP = f"{CLOCK}/custom/fdc"


def test_the_app_json_is_the_documented_custom_app() -> None:
    got = json.loads(app_payload("42", False, Awtrix(CLOCK)))
    assert got == {"text": "42", "icon": ICON, "color": "#FFFFFF", "lifetime": 120, "lifetimeMode": 1}
    assert json.loads(app_payload("42", True, Awtrix(CLOCK, icon="5588")))["color"] == STALE_COLOR
    assert json.loads(app_payload("42", True, Awtrix(CLOCK, icon="5588")))["icon"] == "5588"
    assert [clock_brightness(n) for n in (0, 1, 8, 15)] == [1, 17, 136, 255]
    assert (refresh_every(10), refresh_every(120), refresh_every(3600)) == (2.5, 30.0, 30.0)


def test_config_needs_the_clock_prefix(tmp_path: Path) -> None:
    cfg = tmp_path / "clock.yaml"
    cfg.write_text("node_id: clock\ndisplay: {driver: awtrix}\n")
    res = run_fdc("check-config", str(cfg))
    assert res.returncode == 2 and "display.awtrix: the awtrix driver needs the clock's MQTT prefix" in res.stderr
    cfg.write_text("node_id: clock\ndisplay: {driver: awtrix, awtrix: {prefix: 'a/+', app: 'f d c'}}\n")
    res = run_fdc("check-config", str(cfg))
    assert "display.awtrix.prefix: 'a/+' is not an MQTT prefix" in res.stderr
    assert "display.awtrix.app: 'f d c' is not an app name" in res.stderr
    cfg.write_text(f"node_id: clock\ndisplay: {{driver: awtrix, awtrix: {{prefix: {CLOCK}, lifetime: 60}}}}\n")
    assert load(cfg).display.awtrix == Awtrix(CLOCK, "fdc", None, 60)


@pytest.fixture
def clock_node(broker: Broker, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    cfg = tmp_path / "clock.yaml"
    cfg.write_text(
        f"node_id: clock\nstale_after: 0.5\nstate_file: {tmp_path / 'state.json'}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
        f"display: {{driver: awtrix, awtrix: {{prefix: {CLOCK}, lifetime: 10}}}}\n"
    )
    with (tmp_path / "node.log").open("wb") as err:
        proc = subprocess.Popen(
            fdc_command("display", "-c", str(cfg)), stderr=err, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def app(payload: bytes) -> dict[str, object]:
    got: dict[str, object] = json.loads(payload)
    return got


def test_the_clock_gets_the_number_brightness_refreshes_and_staleness(
    broker: Broker, clock_node: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    clock = Recorder(broker, [f"{CLOCK}/#", "friday-deploy/displays/clock/#"])
    try:
        publish(broker, "friday-deploy/weeks", b"42")
        got = app(clock.wait_for(APP, lambda p: app(p)["text"] == "42"))
        assert got == {"text": "42", "icon": ICON, "color": "#FFFFFF", "lifetime": 10, "lifetimeMode": 1}
        assert all(not m.retain for m in clock.on(APP)), "the app is not retained (the clock would replay it)"
        assert json.loads(clock.wait_for(f"{CLOCK}/settings")) == {"BRI": 136, "ABRI": False}
        assert json.loads(clock.wait_for(f"{CLOCK}/power")) == {"power": True}
        # the node's own topics as for every display
        assert showing(clock.wait_for("friday-deploy/displays/clock/showing", lambda p: showing(p)["value"] == 42))
        assert clock.wait_for("friday-deploy/displays/clock/status") == b"online"

        # the app is sent again before its lifetime (10 s) is over, although nothing changed
        clock.clear()
        clock.wait_for(APP, lambda p: app(p)["text"] == "42", timeout=10)

        # a number wider than a matrix chain: the clock scrolls it, so it is never shortened to 9+
        publish(broker, "friday-deploy/weeks", b"12345")
        clock.wait_for(APP, lambda p: app(p)["text"] == "12345")

        # Home Assistant's brightness → the clock's BRI
        publish(broker, "friday-deploy/displays/clock/brightness/set", b"3", retain=False)
        assert json.loads(clock.wait_for(f"{CLOCK}/settings", lambda p: b"51" in p)) == {"BRI": 51, "ABRI": False}

        # the publisher goes offline for over stale_after: the number greyed out
        publish(broker, "friday-deploy/status", OFFLINE)
        clock.wait_for(APP, lambda p: app(p) == {**app(p), "text": "12345", "color": STALE_COLOR})

        # stopped: the node says offline and stops sending; the clock's lifetime marks the app stale by itself
        clock_node.send_signal(signal.SIGTERM)
        assert clock_node.wait(10) == 0
        clock.wait_for("friday-deploy/displays/clock/status", lambda p: p == b"offline")
        assert "Traceback" not in (tmp_path / "node.log").read_text()
    finally:
        clock.close()


def test_the_readme_clock_example_is_a_valid_config(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```yaml\n# clock.yaml", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    (tmp_path / "clock.yaml").write_text(block)
    config = load(tmp_path / "clock.yaml")
    assert (config.display.driver, config.display.brightness) == ("awtrix", 8)
    assert config.display.awtrix == Awtrix("awtrix_1a2b3c", "fdc", None, 120)
