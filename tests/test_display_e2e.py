"""`fdc display` as a real process with the capture driver, driven by mosquitto_pub against a real broker.

What is lit is read back from the PNG frames the capture driver writes; what the node reports from `showing`.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.payloads import OFFLINE, ONLINE
from display_node.render import pixels, render
from tests.broker import Broker, Recorder, wait_until
from tests.display_helpers import latest_frame, showing
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]
WEEKS = "friday-deploy/weeks"
SHOWING = "friday-deploy/displays/e2e/showing"
NODE_STATUS = "friday-deploy/displays/e2e/status"


def fdc(*args: str) -> list[str]:
    return fdc_command(*args)


def mosquitto_pub(broker: Broker, *args: str) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", *args], check=True, timeout=10
    )


@pytest.fixture
def node(broker: Broker, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    frames = tmp_path / "frames"
    cfg = tmp_path / "display.yaml"
    cfg.write_text(
        f"node_id: e2e\nstale_after: 0.5\nmqtt: {{host: {broker.host}, port: {broker.port}}}\n"
        f"display: {{driver: dummy, cascaded: 2, capture_dir: {frames}}}\n"
    )
    log = tmp_path / "node.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as err:
        proc = subprocess.Popen(fdc("display", "-c", str(cfg), "--driver", "capture"), stderr=err, cwd=ROOT, env=env)
    yield proc, frames, log
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def frame_is(frames: Path, rows: list[str]) -> bool:
    return latest_frame(frames) == rows


def test_the_node_end_to_end(
    broker: Broker, recorder: Recorder, node: tuple[subprocess.Popen[bytes], Path, Path], tmp_path: Path
) -> None:
    proc, frames, log = node
    is_42 = pixels(render(42, 16))

    # the number, as people test it
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-m", "42")
    got = showing(recorder.wait_for(SHOWING, lambda p: showing(p)["value"] == 42))
    assert (got["text"], got["stale"]) == ("42", False)
    wait_until(lambda: frame_is(frames, is_42), 10, "42 in the newest capture frame")
    assert recorder.wait_for(NODE_STATUS) == ONLINE

    # bad payloads: one log line each, nothing changes, the node lives on
    (tmp_path / "bad-utf8").write_bytes(b"\xc3\x28")
    (tmp_path / "big").write_bytes(b"1" * 100_000)
    for args in (["-m", "abc"], ["-m", "-1"], ["-m", "3.5"], ["-f", str(tmp_path / "bad-utf8")]):
        mosquitto_pub(broker, "-t", WEEKS, *args)
    mosquitto_pub(broker, "-t", WEEKS, "-f", str(tmp_path / "big"))
    wait_until(lambda: log.read_text().count("ignored a bad payload") == 5, 10, "five log lines about bad payloads")
    text = log.read_text()
    assert "'abc' is not a whole number" in text and "-1 is negative" in text and "not valid UTF-8" in text
    assert "100000 bytes is over the 64-byte limit" in text
    assert proc.poll() is None
    assert showing(recorder.last(SHOWING) or b"{}")["value"] == 42
    assert frame_is(frames, is_42)

    # an empty retained payload clears the topic: the no-data glyph
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-n")
    recorder.wait_for(SHOWING, lambda p: showing(p)["text"] == "--" and showing(p)["value"] is None)
    wait_until(lambda: frame_is(frames, pixels(render(None, 16))), 10, "the no-data glyph")

    # the publisher goes offline for longer than stale_after: the stale mark, the number stays
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-m", "42")
    recorder.wait_for(SHOWING, lambda p: showing(p)["value"] == 42)
    mosquitto_pub(broker, "-r", "-t", "friday-deploy/status", "-m", OFFLINE.decode())
    recorder.wait_for(SHOWING, lambda p: showing(p) == {**showing(p), "value": 42, "stale": True})
    wait_until(lambda: frame_is(frames, pixels(render(42, 16, stale_mark=True))), 10, "42 with the stale mark")
    assert "stale mark on: the publisher has been offline for over 0.5 s" in log.read_text()
    recorder.clear()
    mosquitto_pub(broker, "-r", "-t", "friday-deploy/status", "-m", ONLINE.decode())
    recorder.wait_for(SHOWING, lambda p: showing(p)["stale"] is False)
    wait_until(lambda: frame_is(frames, is_42), 10, "42 without the mark")

    # the broker goes away: stale mark on the LEDs (nobody can be told over MQTT)
    broker.stop()
    wait_until(lambda: frame_is(frames, pixels(render(42, 16, stale_mark=True))), 10, "the stale mark")
    wait_until(lambda: "stale mark on: no connection to the MQTT broker" in log.read_text(), 10, "the reason logged")
    assert proc.poll() is None
    # the broker comes back (empty: it keeps no retained messages): the node reconnects and reports again
    recorder.clear()
    broker.start()
    recorder.wait_for(NODE_STATUS, lambda p: p == ONLINE, timeout=20)
    recorder.wait_for(SHOWING, lambda p: showing(p)["value"] == 42 and showing(p)["stale"] is False, timeout=20)
    wait_until(lambda: frame_is(frames, is_42), 10, "42 without the mark after the reconnect")
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-m", "43")
    recorder.wait_for(SHOWING, lambda p: showing(p)["value"] == 43)
    wait_until(lambda: frame_is(frames, pixels(render(43, 16))), 10, "43")

    # SIGTERM: clean stop, `offline` on the node's status topic
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    recorder.wait_for(NODE_STATUS, lambda p: p == OFFLINE)
    assert "Traceback" not in log.read_text()


def test_terminal_driver_without_a_tty_says_so_and_prints_plain_frames(broker: Broker, tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text(f"node_id: t\nmqtt: {{host: {broker.host}, port: {broker.port}}}\ndisplay: {{driver: terminal}}\n")
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-m", "42")
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(fdc("display", "-c", str(cfg)), stdout=o, stderr=e, cwd=ROOT)
    try:
        wait_until(lambda: "\n".join(pixels(render(42, 16))) in out.read_text(), 10, "42 as # and . rows")
        assert "is not a terminal" in err.read_text() and "--driver capture" in err.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_bad_config_and_bad_driver_exit_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text("node_id: t\ndisplay: {brightness: 40}\n")
    res = subprocess.run(fdc("display", "-c", str(cfg)), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2 and "display.brightness: 40 is not a whole number from 0 to 15" in res.stderr
    cfg.write_text("node_id: t\n")
    res = subprocess.run(
        fdc("display", "-c", str(cfg), "--driver", "oled"), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert res.returncode == 2 and "--driver: 'oled' is not one of" in res.stderr


def test_terminal_driver_draws_blocks_on_a_tty(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text(f"node_id: tty\nmqtt: {{host: {broker.host}, port: {broker.port}}}\ndisplay: {{driver: terminal}}\n")
    mosquitto_pub(broker, "-r", "-t", WEEKS, "-m", "42")
    master, slave = pty.openpty()
    proc = subprocess.Popen(fdc("display", "-c", str(cfg)), stdout=slave, stderr=subprocess.DEVNULL, cwd=ROOT)
    os.close(slave)
    out = bytearray()

    def drawn() -> bool:
        if select.select([master], [], [], 0)[0]:
            out.extend(os.read(master, 65536))
        return "██" in out.decode(errors="replace") and proc.poll() is None

    try:
        recorder.wait_for("friday-deploy/displays/tty/showing", lambda p: showing(p)["value"] == 42)
        wait_until(drawn, 10, "block characters on the terminal")
        top_row = pixels(render(42, 16))[0].replace("#", "█").replace(".", "·")
        wait_until(lambda: drawn() and top_row in out.decode(errors="replace"), 10, "the top row of 42")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        os.close(master)
