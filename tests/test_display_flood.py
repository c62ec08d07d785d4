"""A flood the broker cannot deliver: the project's own broker config drops what a display node cannot take (at most
1000 messages wait per client), and the node still ends on the retained number, drawn and reported.

The node is `fdc display` as a process with the capture driver; it is stopped (SIGSTOP) while the flood is
published, so the broker must drop most of it, and continued (SIGCONT) afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from display_node.render import pixels, render
from tests.broker import wait_until
from tests.broker_project import PREFIX, ProjectBroker, display_topic, weeks_topic
from tests.display_helpers import latest_frame
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]
NODE = "berlin-3rd-floor"
FLOOD = 5000  # well over the 1000 queued + 20 in flight that mosquitto.conf lets wait for one client
TRUTH = 95  # the last of the flood, and so the retained number; no other message of the flood carries it


@pytest.fixture
def broker() -> Iterator[ProjectBroker]:
    b = ProjectBroker(nodes=(NODE,), name="flood")
    b.start()
    yield b
    b.close()


def test_a_node_the_broker_dropped_messages_for_ends_on_the_retained_number(
    broker: ProjectBroker, tmp_path: Path
) -> None:
    frames = tmp_path / "frames"
    cfg = tmp_path / "display.yaml"
    cfg.write_text(
        f"node_id: {NODE}\nmqtt: {{host: 127.0.0.1, port: {broker.port}, username: {NODE}}}\n"
        f"display: {{driver: capture, cascaded: 2, capture_dir: {frames}}}\nhomeassistant: {{enabled: false}}\n"
        f"state_file: {tmp_path / 'display.json'}\n"
    )
    env = {**os.environ, "FDC_MQTT_PASSWORD": broker.password(NODE), "PYTHONUNBUFFERED": "1"}
    watcher = broker.client("homeassistant").subscribe(display_topic(NODE, "showing"))
    operator = broker.client("operator")
    with (tmp_path / "node.log").open("wb") as log:
        node = subprocess.Popen(fdc_command("display", "-c", str(cfg)), stderr=log, cwd=ROOT, env=env)
    try:
        operator.publish(weeks_topic(), "1", retain=True)
        watcher.wait_for(display_topic(NODE, "showing"), lambda m: json.loads(m.payload)["value"] == 1)
        node.send_signal(signal.SIGSTOP)  # a node that cannot keep up, as a Pi Zero under a flood
        info = [
            operator.mqtt.publish(weeks_topic(), str(i % 90 if i < FLOOD - 1 else TRUTH), qos=1, retain=True)
            for i in range(FLOOD)
        ]
        for i in info:
            i.wait_for_publish(30)
        watcher.messages.clear()
        node.send_signal(signal.SIGCONT)
        shown = watcher.wait_for(display_topic(NODE, "showing"), lambda m: json.loads(m.payload)["value"] == TRUTH)
        assert json.loads(shown.payload)["text"] == str(TRUTH)
        values = [json.loads(p)["value"] for p in watcher.payloads(display_topic(NODE, "showing"))]
        # It first caught up with what the broker had kept for it (the flood's beginning, never 95), then read
        # the retained number again: the broker had dropped the rest, the last message included.
        assert values[0] != TRUTH and values[-1] == TRUTH, values
        wait_until(lambda: latest_frame(frames) == pixels(render(TRUTH, 16)), 10, f"{TRUTH} in the newest frame")
        assert "Traceback" not in (tmp_path / "node.log").read_text()
    finally:
        node.send_signal(signal.SIGCONT)
        node.terminate()
        node.wait(20)
        watcher.close()
        operator.close()
    assert PREFIX == "friday-deploy"
