"""The node's MQTT behaviour in-process against a real mosquitto: values, bad payloads, floods, stale, night."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from common.logs import RateLimitedLog
from common.payloads import OFFLINE, ONLINE
from display_node.config import Night
from display_node.drivers import Panel
from display_node.node import Node
from display_node.render import pixels, render
from tests.broker import Broker, Recorder, wait_until
from tests.display_helpers import config, dummy_panel, publish, running, showing

WEEKS = "friday-deploy/weeks"
STATUS = "friday-deploy/status"
SHOWING = "friday-deploy/displays/test-node/showing"
NODE_STATUS = "friday-deploy/displays/test-node/status"


def shown(panel: Panel) -> list[str]:
    image = panel.device.image
    return pixels(image) if image is not None else []


def is_showing(**want: Any) -> Any:
    return lambda p: all(json.loads(p).get(k) == v for k, v in want.items())


def test_retained_number_is_shown_reported_and_the_node_says_online_then_offline(
    broker: Broker, recorder: Recorder
) -> None:
    publish(broker, WEEKS, b"42")
    panel = dummy_panel()
    with running(Node(config(broker), panel)):
        got = showing(recorder.wait_for(SHOWING, is_showing(value=42)))
        assert (got["text"], got["stale"]) == ("42", False)
        datetime.fromisoformat(got["at"])
        wait_until(lambda: shown(panel) == pixels(render(42, 16)), 5, "42 on the panel")
        assert recorder.last(NODE_STATUS) == ONLINE
        publish(broker, WEEKS, b'{"weeks": 7}')
        recorder.wait_for(SHOWING, is_showing(text="7", value=7))
        publish(broker, WEEKS, b"")
        recorder.wait_for(SHOWING, is_showing(text="--", value=None))
        wait_until(lambda: shown(panel) == pixels(render(None, 16)), 5, "the no-data glyph")
    assert recorder.wait_for(NODE_STATUS, lambda p: p == OFFLINE)


def test_bad_payloads_leave_the_display_alone_with_rate_limited_log_lines(
    broker: Broker, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    publish(broker, WEEKS, b"5")
    panel = dummy_panel()
    node = Node(config(broker), panel)
    with running(node), caplog.at_level(logging.WARNING, logger="fdc.display"):
        recorder.wait_for(SHOWING, is_showing(value=5))
        before = panel.frames
        bad = [b"abc", b"-1", b"3.5", b"\xff\xfe", b"9" * 100_000, b'{"weeks": "3"}', b"true"] * 3
        publish(broker, WEEKS, bad, retain=False)
        wait_until(lambda: node.received == 1 + len(bad), 10, "every bad payload to arrive")
        lines = [r.getMessage() for r in caplog.records if "bad payload" in r.getMessage()]
        assert len(lines) == 5  # the first five, then silence
        assert "is not a whole number" in lines[0] and "still showing 5" in lines[0]
        assert any("-1 is negative" in line for line in lines)
        assert any("over the 64-byte limit" in line for line in lines)
        assert node.showing is not None and node.showing.value == 5
        assert panel.frames == before and shown(panel) == pixels(render(5, 16))


def test_rate_limited_log_reports_what_it_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("t"), burst=2, window=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t"):
        for i in range(5):
            limited.warning("bad %d", i)
        now[0] = 11
        limited.warning("bad again")
    assert [r.getMessage() for r in caplog.records] == [
        "bad 0",
        "bad 1",
        "3 more bad payloads were ignored without a log line",
        "bad again",
    ]


class GatedPanel(Panel):
    """A panel whose first frame blocks until released, standing in for a slow SPI bus during a flood."""

    def __init__(self) -> None:
        super().__init__(dummy_panel().device, "gated")
        self.entered = threading.Event()
        self.release = threading.Event()
        self.images: list[Image.Image] = []

    def show(self, image: Image.Image) -> None:
        self.entered.set()
        assert self.release.wait(20)
        self.images.append(image)
        super().show(image)


@pytest.fixture
def roomy_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that queues every message for a subscriber (mosquitto drops QoS 1 beyond 1000 by default)."""
    b = Broker(tmp_path / "roomy", extra_config="max_queued_messages 0")
    b.start()
    yield b
    b.stop()


def test_a_flood_never_queues_renders_the_latest_value_wins(roomy_broker: Broker) -> None:
    broker = roomy_broker
    recorder = Recorder(broker)
    panel = GatedPanel()
    node = Node(config(broker), panel)
    try:
        with running(node):
            assert panel.entered.wait(10)  # the first frame (no data yet) is stuck "on the bus"
            publish(broker, WEEKS, b"1")
            wait_until(lambda: node.value == 1, 10, "the node to be subscribed")
            flood = [str(i).encode() for i in range(3000)] + [b"77"]  # one connection: the broker keeps the order
            publish(broker, WEEKS, flood)  # retained, as the publisher does: 77 is also the truth the node re-reads
            wait_until(lambda: node.received >= 1 + len(flood), 20, "the whole flood to reach the node")
            assert node.value == 77
            panel.release.set()
            recorder.wait_for(SHOWING, is_showing(value=77))
            assert len(panel.images) <= 3  # the stuck frame, maybe one in between, then 77: never thousands
            assert pixels(panel.images[-1]) == pixels(render(77, 16))
    finally:
        panel.release.set()
        recorder.close()


def test_publisher_offline_beyond_stale_after_marks_stale_and_recovers(broker: Broker, recorder: Recorder) -> None:
    publish(broker, WEEKS, b"3")
    publish(broker, STATUS, ONLINE)
    panel = dummy_panel()
    with running(Node(config(broker, stale_after=0.3), panel)):
        recorder.wait_for(SHOWING, is_showing(value=3, stale=False))
        publish(broker, STATUS, OFFLINE)
        recorder.wait_for(SHOWING, is_showing(value=3, stale=True))
        lit_frames = [render(3, 16, stale_mark=True), render(3, 16)]
        wait_until(lambda: shown(panel) == pixels(lit_frames[0]), 5, "the stale mark to blink on")
        wait_until(lambda: shown(panel) == pixels(lit_frames[1]), 5, "the stale mark to blink off")
        recorder.clear()
        publish(broker, STATUS, ONLINE)
        recorder.wait_for(SHOWING, is_showing(value=3, stale=False))
        wait_until(lambda: shown(panel) == pixels(lit_frames[1]), 5, "the number without the mark")


def test_brightness_at_runtime_and_the_night_schedule(broker: Broker, recorder: Recorder) -> None:
    publish(broker, WEEKS, b"12")
    clock = {"now": datetime(2026, 11, 26, 12, 0).astimezone()}
    levels: list[int] = []
    power: list[bool] = []

    class Watched(Panel):
        def set_brightness(self, level: int) -> None:
            levels.append(level)
            super().set_brightness(level)

        def power(self, on: bool) -> None:
            power.append(on)
            super().power(on)

    panel = Watched(dummy_panel().device, "watched")
    cfg = config(broker, brightness=6, night=Night(datetime(1, 1, 1, 22).time(), datetime(1, 1, 1, 7).time(), None))
    node = Node(cfg, panel, now=lambda: clock["now"])
    with running(node):
        recorder.wait_for(SHOWING, is_showing(text="12"))
        assert levels[0] == 6
        node.set_brightness(14)
        wait_until(lambda: levels[-1] == 14, 5, "brightness 14 applied")
        with pytest.raises(ValueError):
            node.set_brightness(16)
        clock["now"] = datetime(2026, 11, 26, 23, 0).astimezone()
        node.wake()
        recorder.wait_for(SHOWING, is_showing(text="", value=12))  # the LEDs are off: nothing is lit
        assert power[-1] is False
        clock["now"] = datetime(2026, 11, 27, 7, 30).astimezone()
        node.wake()
        wait_until(lambda: power[-1] is True, 5, "the display to wake up in the morning")
        assert levels[-1] == 14
        recorder.wait_for(SHOWING, is_showing(text="12", value=12))


def test_without_persist_the_matrix_goes_dark_on_exit_and_showing_says_so(broker: Broker, recorder: Recorder) -> None:
    publish(broker, WEEKS, b"9")
    panel = dummy_panel()
    with running(Node(config(broker, persist=False), panel)):
        recorder.wait_for(SHOWING, is_showing(text="9"))
    assert recorder.wait_for(SHOWING, is_showing(text="", value=9))
    assert recorder.wait_for(NODE_STATUS, lambda p: p == OFFLINE)
    assert shown(panel) == ["." * 16] * 8  # luma cleared the device because persist is off


def test_after_a_burst_the_node_reads_the_retained_number_again_and_ends_on_it(
    broker: Broker, recorder: Recorder
) -> None:
    """The truth is the retained `weeks`. A burst of messages that are not it (here: not retained; in real life
    whatever the broker could not deliver) ends with the node re-reading it, not on the burst's last message."""
    publish(broker, WEEKS, b"7")
    with running(Node(config(broker), dummy_panel())) as node:
        recorder.wait_for(SHOWING, is_showing(value=7))
        publish(broker, WEEKS, [str(1000 + i).encode() for i in range(500)], retain=False)
        wait_until(lambda: node.resyncs >= 1 and node.value == 7, 15, "the node to re-read the retained 7")
        recorder.wait_for(SHOWING, is_showing(value=1499))  # it did show the burst (at most 20 frames a second)
        recorder.clear()
        recorder.wait_for(SHOWING, is_showing(value=7, text="7"))
        assert node.bursts.seen == 1
        assert shown(node.panel) == pixels(render(7, 16))
    # A single message is no burst: it is shown and stays.
    publish(broker, WEEKS, b"8", retain=False)
    publish(broker, WEEKS, b"9")
    with running(Node(config(broker), dummy_panel())) as node:
        wait_until(lambda: node.value == 9, 10, "the retained 9")
        publish(broker, WEEKS, b"10", retain=False)
        recorder.wait_for(SHOWING, is_showing(value=10))
        assert (node.bursts.seen, node.resyncs, node.value) == (0, 0, 10)


def test_a_burst_of_brightness_commands_settles_on_the_last_with_few_log_lines(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fdc.display")
    topic = "friday-deploy/displays/test-node/brightness"
    rec = Recorder(broker, topic)
    state = tmp_path / "display.json"
    levels: list[int] = []

    class Recording(Panel):
        def set_brightness(self, level: int) -> None:
            levels.append(level)
            super().set_brightness(level)

    base = dummy_panel()
    try:
        with running(
            Node(dataclasses.replace(config(broker), state_file=state), Recording(base.device, "rec"))
        ) as node:
            rec.wait_for(topic)
            commands = [str(i % 15).encode() for i in range(1000)] + [b"15"]  # 15 only at the end
            publish(broker, f"{topic}/set", commands, retain=False)
            rec.wait_for(topic, lambda p: p == b"15")
            wait_until(lambda: levels[-1:] == [15] and state.exists(), 10, "the last level on the panel")
            wait_until(lambda: json.loads(state.read_text()) == {"brightness": 15}, 10, "the last level remembered")
            assert node.brightness == 15
        assert rec.last(topic) == b"15"
        assert len(levels) < len(commands) / 5  # the loop applied the latest level, not every command
        lines = [r.getMessage() for r in caplog.records if "requested on" in r.getMessage()]
        assert 1 <= len(lines) <= 5, lines  # rate-limited like bad payloads
    finally:
        rec.close()
