"""Issue 16's additions for Home Assistant users: why a display is stale (`showing`'s `stale_reason`, read by the
*Stale* sensor), the display's `area`, and `mqtt.keepalive` (how soon a display without power shows as off)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from common.config import MQTT_SCHEMA, ConfigError, MqttSettings, mqtt_settings, validate
from common.mqtt import MqttLink
from display_node.config import SCHEMA as DISPLAY_SCHEMA
from display_node.config import DisplayConfig, DisplaySettings, from_dict
from display_node.node import NO_BROKER, PUBLISHER_OFFLINE, Node, discovery_messages
from tests.broker import Broker, Recorder, free_port, wait_until
from tests.display_helpers import config, dummy_panel, publish, running
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "friday-deploy"


def test_the_stale_reason_reaches_the_showing_topic(broker: Broker) -> None:
    """The publisher offline for over stale_after: `stale_reason` says so; back online: null again."""
    node_id = "stale-reason"
    showing = f"{PREFIX}/displays/{node_id}/showing"
    publish(broker, f"{PREFIX}/weeks", b"7")
    publish(broker, f"{PREFIX}/status", b"online")
    rec = Recorder(broker, showing)
    try:
        with running(Node(config(broker, node_id=node_id, stale_after=0.5), dummy_panel(), jitter=lambda: 0.0)):
            first = json.loads(rec.wait_for(showing, lambda p: json.loads(p)["text"] == "7"))
            assert (first["stale"], first["stale_reason"]) == (False, None)
            publish(broker, f"{PREFIX}/status", b"offline")
            got = json.loads(rec.wait_for(showing, lambda p: json.loads(p)["stale"] is True))
            assert got["stale_reason"] == PUBLISHER_OFFLINE == "publisher_offline"
            assert (got["text"], got["value"]) == ("7", 7)
            publish(broker, f"{PREFIX}/status", b"online")
            back = json.loads(rec.wait_for(showing, lambda p: json.loads(p)["stale"] is False))
            assert back["stale_reason"] is None
        # no published `showing` ever says "no_broker": without a broker there is nobody to tell
        assert all(json.loads(m.payload)["stale_reason"] != NO_BROKER for m in rec.on(showing) if m.payload)
    finally:
        rec.close()


def test_without_a_broker_the_node_knows_why_it_is_stale() -> None:
    settings = MqttSettings(host="127.0.0.1", port=free_port(), client_id="fdc-display-alone")
    node = Node(DisplayConfig(node_id="alone", mqtt=settings, display=DisplaySettings(driver="dummy")), dummy_panel())
    node.step()
    assert node.showing is not None
    assert (node.showing.stale, node.showing.stale_reason) == (True, NO_BROKER)


def test_area_is_the_suggested_area(tmp_path: Path) -> None:
    cfg = from_dict(DISPLAY_SCHEMA({"node_id": "n1", "area": "Berlin 3rd floor"}))
    assert cfg.area == "Berlin 3rd floor"
    devices = {json.loads(p)["device"]["suggested_area"] for _t, p in discovery_messages(cfg)}
    assert devices == {"Berlin 3rd floor"}
    plain = from_dict(DISPLAY_SCHEMA({"node_id": "n1"}))
    assert plain.area is None
    assert all("suggested_area" not in json.loads(p)["device"] for _t, p in discovery_messages(plain))
    bad = tmp_path / "display.yaml"
    bad.write_text("node_id: n1\narea: ''\n")
    res = subprocess.run(fdc_command("check-config", str(bad)), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2 and "area: expected text" in res.stderr, res.stderr


def test_keepalive_key() -> None:
    assert validate({}, MQTT_SCHEMA, "x")["keepalive"] == 30
    assert mqtt_settings(validate({"keepalive": 10}, MQTT_SCHEMA, "x"), "c").keepalive == 10
    assert mqtt_settings(None, "c").keepalive == 30 and MqttSettings().keepalive == 30
    for bad in (2, 70000, "10s", True, 1.5):
        with pytest.raises(ConfigError, match=r"keepalive: .* is not a keepalive: a whole number of seconds from 5"):
            validate({"keepalive": bad}, MQTT_SCHEMA, "x")
    cfg = from_dict(DISPLAY_SCHEMA({"node_id": "n1", "mqtt": {"keepalive": 10}}))
    assert cfg.mqtt.keepalive == 10


def test_the_link_connects_with_the_configured_keepalive(tmp_path: Path) -> None:
    """mosquitto logs each connect's keepalive (`k<seconds>`): the link asks for mqtt.keepalive. (`user root`:
    run as root, mosquitto would otherwise drop to its own user, which cannot write the log in tmp_path.)"""
    broker = Broker(tmp_path / "broker", extra_config="user root")
    broker.start()
    link = MqttLink(MqttSettings(host=broker.host, port=broker.port, client_id="fdc-keepalive-7", keepalive=7))
    link.start()
    try:
        link.wait_connected(10)
        pattern = re.compile(r"as fdc-keepalive-7 \([^)]*\bk7\)")
        wait_until(lambda: broker.log.exists() and pattern.search(broker.log.read_text()), 10, "the connect's log line")
    finally:
        link.stop()
        broker.stop()
