"""Home Assistant for display nodes: discovery payloads key by key, brightness commands and their memory, then
end to end on a real broker (recorded SPI for the contrast), as `fdc display`, and under the project's ACL."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
from datetime import datetime, time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from common import homeassistant as ha
from common.config import MqttSettings
from common.payloads import PayloadError
from common.topics import Topics
from display_node.brightness import decode_brightness, load_level, save_level
from display_node.config import SCHEMA as DISPLAY_SCHEMA
from display_node.config import DisplayConfig, DisplaySettings, Night, default_state_file, from_dict
from display_node.discovery import display_discovery
from display_node.drivers import Panel, open_panel
from display_node.node import Node, effective_level
from publisher.discovery import publisher_discovery
from tests.broker import Broker, Recorder, free_port, retained_topics, wait_until
from tests.broker_project import ProjectBroker
from tests.display_helpers import config, dummy_panel, publish, running
from tests.display_spi import Chain, RecordingSerial
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]
NODE = "berlin-3rd-floor"
PREFIX = "friday-deploy"
STATUS_CONFIG = f"homeassistant/binary_sensor/{NODE}/status/config"
SHOWING_CONFIG = f"homeassistant/sensor/{NODE}/showing/config"
NUMBER_CONFIG = f"homeassistant/number/{NODE}/brightness/config"
STALE_CONFIG = f"homeassistant/binary_sensor/{NODE}/stale/config"
CONFIGS = [STATUS_CONFIG, SHOWING_CONFIG, STALE_CONFIG, NUMBER_CONFIG]
NODE_STATUS = f"{PREFIX}/displays/{NODE}/status"
SHOWING = f"{PREFIX}/displays/{NODE}/showing"
BRIGHTNESS = f"{PREFIX}/displays/{NODE}/brightness"
BRIGHTNESS_SET = f"{PREFIX}/displays/{NODE}/brightness/set"
REQUIRED = {"name", "unique_id", "object_id", "default_entity_id", "device", "origin"}


def configs(node: str = NODE, prefix: str = PREFIX, area: str | None = None) -> dict[str, dict[str, Any]]:
    out = {}
    for d in display_discovery(Topics(prefix), node, "homeassistant", area):
        assert d.config is not None
        out[d.topic] = d.config
    return out


# --- payloads (pure) ---------------------------------------------------------------------------------------


def test_topics_ids_and_the_acl_pattern() -> None:
    c = configs()
    assert sorted(c) == sorted(CONFIGS)
    for topic in c:  # mosquitto/acl: `pattern write homeassistant/+/%u/#`, and the user name is the node_id
        assert mqtt.topic_matches_sub(f"homeassistant/+/{NODE}/#", topic), topic
    ids = [x["unique_id"] for x in c.values()]
    assert ids == [f"fdc_friday-deploy_{NODE}_{o}" for o in ("status", "showing", "stale", "brightness")]
    assert all(ha.ID_RE.match(i) for i in ids) and len(set(ids)) == len(ids)
    for topic, x in c.items():
        component = topic.split("/")[1]
        assert x["default_entity_id"] == f"{component}.{x['unique_id']}" and x["object_id"] == x["unique_id"]
    # no clash with the publisher's entities, nor with another node's
    publisher_ids = {
        x["unique_id"] for d in publisher_discovery(Topics(PREFIX), "homeassistant") if (x := d.config) is not None
    }
    assert len(publisher_ids) == 6
    assert not publisher_ids & set(ids)
    assert not {x["unique_id"] for x in configs("hamburg-lobby").values()} & set(ids)


# The entity ids Home Assistant gives a display's entities: unchanged by issue 16's names, plus *Stale*.
ENTITY_IDS = [
    f"binary_sensor.fdc_friday-deploy_{NODE}_status",
    f"sensor.fdc_friday-deploy_{NODE}_showing",
    f"binary_sensor.fdc_friday-deploy_{NODE}_stale",
    f"number.fdc_friday-deploy_{NODE}_brightness",
]


def test_every_key_is_one_home_assistant_knows() -> None:
    for x in [*configs().values(), *configs(prefix="acme/fdc", area="Kitchen").values()]:
        assert set(x) >= REQUIRED, set(x)
        assert set(x) <= ha.KNOWN_KEYS, set(x) - ha.KNOWN_KEYS
        assert set(x["origin"]) == {"name", "sw_version", "support_url"}
        assert set(x["device"]) >= {"identifiers", "name", "manufacturer", "model", "sw_version", "via_device"}
        assert set(x["device"]) <= ha.DEVICE_KEYS, set(x["device"]) - ha.DEVICE_KEYS
        assert "availability_topic" not in x
    for x in configs().values():
        assert x["device"]["identifiers"] == [f"fdc_friday-deploy_{NODE}"]
        assert x["device"]["name"] == f"Friday Deploy display {NODE}"
        assert "suggested_area" not in x["device"] and "configuration_url" not in x["device"]
    assert [x["default_entity_id"] for x in configs().values()] == ENTITY_IDS


def test_names_area_and_the_link_to_the_publisher() -> None:
    """Entity names read after the device name (has_entity_name); a prefix other than the default is in the device
    name; `area` is the suggested_area; via_device is the publisher's device of the same prefix."""
    c = configs()
    assert [x["name"] for x in c.values()] == ["Connectivity", "Showing", "Stale", "Brightness"]
    for prefix in (PREFIX, "acme/fdc"):
        (publisher_device,) = {
            d.config["device"]["identifiers"][0]
            for d in publisher_discovery(Topics(prefix), "homeassistant")
            if d.config is not None
        }
        assert {x["device"]["via_device"] for x in configs(prefix=prefix).values()} == {publisher_device}
    other = configs(prefix="acme/fdc", area="Berlin 3rd floor")
    assert {x["device"]["name"] for x in other.values()} == {f"Friday Deploy display {NODE} (acme/fdc)"}
    assert {x["device"]["suggested_area"] for x in other.values()} == {"Berlin 3rd floor"}


def test_connectivity_showing_and_brightness() -> None:
    c = configs()
    available = [{"topic": NODE_STATUS, "payload_available": "online", "payload_not_available": "offline"}]
    status = c[STATUS_CONFIG]
    assert (status["state_topic"], status["payload_on"], status["payload_off"]) == (NODE_STATUS, "online", "offline")
    assert status["device_class"] == "connectivity"
    assert "entity_category" not in status  # a normal entity: the default dashboard shows it
    assert "availability" not in status  # it is the availability
    showing = c[SHOWING_CONFIG]
    assert showing["state_topic"] == showing["json_attributes_topic"] == SHOWING
    assert "value_json.text" in showing["value_template"] and showing["availability"] == available
    stale = c[STALE_CONFIG]
    assert (stale["device_class"], stale["state_topic"], stale["json_attributes_topic"]) == (
        "problem",
        SHOWING,
        SHOWING,
    )
    assert stale["value_template"] == "{{ 'ON' if value_json.stale else 'OFF' }}"
    assert "value_json.get('stale_reason')" in stale["json_attributes_template"]
    assert "'reason':" in stale["json_attributes_template"] and "reason" not in ha.BLOCKED_ATTRIBUTES
    assert stale["availability"] == available and "entity_category" not in stale
    number = c[NUMBER_CONFIG]
    assert (number["command_topic"], number["state_topic"]) == (BRIGHTNESS_SET, BRIGHTNESS)
    assert (number["min"], number["max"], number["step"], number["mode"]) == (0, 15, 1, "slider")
    assert number["availability"] == available
    assert "retain" not in number  # commands are not retained: a restarted node uses what it remembered


def test_another_prefix_gives_other_ids_and_topics() -> None:
    c = configs(prefix="acme/fdc")
    number = c[NUMBER_CONFIG]
    assert number["device"]["identifiers"] == [f"fdc_acme_fdc_{NODE}"]
    assert number["command_topic"] == f"acme/fdc/displays/{NODE}/brightness/set"
    with pytest.raises(ValueError):
        display_discovery(Topics(PREFIX), "bad node", "homeassistant")


@pytest.mark.parametrize(("payload", "level"), [(b"3", 3), (b" 15\n", 15), (b"0", 0), (b"07", 7), (b"12\r\n", 12)])
def test_brightness_commands_that_are_accepted(payload: bytes, level: int) -> None:
    assert decode_brightness(payload) == level


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"16", "16 is not a whole number from 0 to 15"),
        (b"-1", "-1 is not a whole number from 0 to 15"),
        (b"abc", "'abc' is not a whole number from 0 to 15"),
        (b"3.5", "3.5 is not a whole number from 0 to 15"),
        (b"true", "True is not a whole number"),
        (b"", "'' is not a whole number"),
        (b'{"brightness": 3}', "is not a whole number"),
        (b"\xc3\x28", "not valid UTF-8"),
        (b"1" * 100, "over the 64-byte limit"),
    ],
)
def test_brightness_commands_that_are_refused(payload: bytes, why: str) -> None:
    with pytest.raises(PayloadError, match=why.replace("(", r"\(").replace("[", r"\[")):
        decode_brightness(payload)


def test_the_remembered_level_is_written_atomically_and_read_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "deep" / "display-x.json"
    assert load_level(path) is None
    save_level(path, 3)
    save_level(path, 11)
    assert json.loads(path.read_text()) == {"brightness": 11} and load_level(path) == 11
    assert [p.name for p in path.parent.iterdir()] == ["display-x.json"]  # no temporary file left behind
    path.write_text("{not json")
    assert load_level(path) is None and "cannot read the remembered brightness" in caplog.text
    path.write_text('{"brightness": 99}')
    assert load_level(path) is None and "holds no brightness from 0 to 15" in caplog.text


def test_the_night_schedule_dims_but_never_brightens() -> None:
    assert effective_level(9, False, 2) == (True, 9)
    assert effective_level(9, True, 2) == (True, 2)
    assert effective_level(1, True, 2) == (True, 1)  # Home Assistant dimmed below the night level: stays dimmer
    assert effective_level(9, True, None) == (False, 0)


def test_config_keys_for_home_assistant_and_the_state_file(tmp_path: Path) -> None:
    cfg = from_dict(DISPLAY_SCHEMA({"node_id": "n1"}))
    assert (cfg.homeassistant, cfg.discovery_prefix) == (True, "homeassistant")
    assert cfg.state_file == Path(os.path.expanduser("~/.local/state/fdc/display-n1.json"))
    off = {"enabled": False, "discovery_prefix": "ha"}
    cfg = from_dict(DISPLAY_SCHEMA({"node_id": "n1", "state_file": str(tmp_path / "b.json"), "homeassistant": off}))
    assert (cfg.homeassistant, cfg.discovery_prefix, cfg.state_file) == (False, "ha", tmp_path / "b.json")
    assert from_dict(DISPLAY_SCHEMA({"node_id": "n1", "homeassistant": None})).homeassistant is True
    assert default_state_file("n1", {"STATE_DIRECTORY": "/var/lib/fdc"}) == Path("/var/lib/fdc/display-n1.json")


def test_bad_home_assistant_keys_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text("node_id: n1\nhomeassistant: {enabled: maybe, discovery_prefix: 'a/#'}\n")
    res = subprocess.run(fdc("check-config", str(cfg)), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2
    assert "homeassistant.enabled" in res.stderr and "homeassistant.discovery_prefix" in res.stderr


# --- a node on a real broker --------------------------------------------------------------------------------


def fdc(*args: str) -> list[str]:
    return fdc_command(*args)


def recording_panel(serial: RecordingSerial) -> Panel:
    """luma's real max7219 driver on a recording SPI bus: the tests read the chips' registers back."""
    return open_panel(DisplaySettings(driver="max7219", cascaded=2), serial=serial)


def intensities(serial: RecordingSerial) -> set[int | None]:
    return {chip.intensity for chip in Chain(2).feed(serial).chips}


def node_config(broker: Broker, state_file: Path | None, **kw: Any) -> DisplayConfig:
    return dataclasses.replace(config(broker, node_id=NODE), state_file=state_file, **kw)


def test_a_node_announces_reannounces_obeys_brightness_and_remembers_it(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fdc.display")
    publish(broker, f"{PREFIX}/weeks", b"12")
    state_file = tmp_path / "state" / f"display-{NODE}.json"
    cfg = node_config(broker, state_file)
    rec = Recorder(broker, ["homeassistant/#", f"{PREFIX}/displays/#"])
    serial = RecordingSerial()
    try:
        with running(Node(cfg, recording_panel(serial), jitter=lambda: 0.05)):
            got = {t: json.loads(rec.wait_for(t)) for t in CONFIGS}
            # the state topics the configs name carry the right values
            assert rec.wait_for(got[STATUS_CONFIG]["state_topic"]) == b"online"
            rec.wait_for(got[SHOWING_CONFIG]["state_topic"], lambda p: json.loads(p)["text"] == "12")
            assert rec.wait_for(got[NUMBER_CONFIG]["state_topic"]) == b"8"  # display.brightness, nothing set yet
            topics = [m.topic for m in rec.messages]
            assert max(topics.index(t) for t in CONFIGS) < min(
                topics.index(t) for t in (NODE_STATUS, SHOWING, BRIGHTNESS)
            )
            wait_until(lambda: intensities(serial) == {8}, 5, "intensity 8 in every chip")

            # Home Assistant restarts: discovery again, then the states
            rec.clear()
            publish(broker, "homeassistant/status", b"online", retain=False)
            for t in CONFIGS:
                rec.wait_for(t)
            assert rec.wait_for(BRIGHTNESS) == b"8"
            assert rec.wait_for(NODE_STATUS) == b"online"
            topics = [m.topic for m in rec.messages]
            assert max(topics.index(t) for t in CONFIGS) < topics.index(NODE_STATUS)

            # the number entity sets 3: the chips get intensity 3, the state says 3 (retained), it is remembered
            rec.clear()
            publish(broker, BRIGHTNESS_SET, b"3", retain=False)
            assert rec.wait_for(BRIGHTNESS) == b"3"
            wait_until(lambda: intensities(serial) == {3}, 5, "intensity 3 in every chip")
            late = Recorder(broker, BRIGHTNESS)
            try:
                msg = wait_for_message(late, BRIGHTNESS)
                assert (msg.payload, msg.retain) == (b"3", True)
            finally:
                late.close()
            assert json.loads(state_file.read_text()) == {"brightness": 3}

            # bad commands: one log line each, nothing changes; the next good one is the next state
            for bad in (b"16", b"-1", b"abc", b"3.5"):
                publish(broker, BRIGHTNESS_SET, bad, retain=False)
            publish(broker, BRIGHTNESS_SET, b"5", retain=False)
            rec.wait_for(BRIGHTNESS, lambda p: p == b"5")
            assert rec.payloads(BRIGHTNESS) == [b"3", b"5"]
            wait_until(lambda: intensities(serial) == {5}, 5, "intensity 5 in every chip")
            bad_lines = [r.getMessage() for r in caplog.records if "ignored a bad brightness" in r.getMessage()]
            assert len(bad_lines) == 4 and "16 is not a whole number from 0 to 15" in bad_lines[0]
            assert "'abc' is not a whole number" in bad_lines[2] and "keeping brightness 3" in bad_lines[3]

        # a restart (the retained state cleared first, so only the node itself can say 5 again)
        publish(broker, BRIGHTNESS, b"")
        rec.clear()
        serial = RecordingSerial()
        with running(Node(cfg, recording_panel(serial))):
            assert rec.wait_for(BRIGHTNESS, lambda p: p != b"") == b"5"
            wait_until(lambda: intensities(serial) == {5}, 5, "intensity 5 after the restart")
        assert "brightness 5, as last set at runtime" in caplog.text
    finally:
        rec.close()


def wait_for_message(rec: Recorder, topic: str) -> mqtt.MQTTMessage:
    wait_until(lambda: rec.on(topic), 10, f"a message on {topic}")
    return rec.on(topic)[0]


def test_an_unwritable_state_file_is_one_sentence_and_the_level_still_applies(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rec = Recorder(broker, BRIGHTNESS)
    serial = RecordingSerial()
    try:
        node = Node(node_config(broker, blocker / "display.json"), recording_panel(serial))
        with running(node):
            rec.wait_for(BRIGHTNESS, lambda p: p == b"8")
            node.set_brightness(2)
            rec.wait_for(BRIGHTNESS, lambda p: p == b"2")
            wait_until(lambda: intensities(serial) == {2}, 5, "intensity 2")
        assert "cannot remember brightness 2 in" in caplog.text and "check state_file" in caplog.text
    finally:
        rec.close()


def test_brightness_set_at_night_is_dimmed_by_the_schedule_and_comes_back_in_the_morning(broker: Broker) -> None:
    clock = {"now": datetime(2026, 11, 26, 23, 0).astimezone()}
    serial = RecordingSerial()
    night = Night(time(22, 0), time(7, 0), 4)
    cfg = node_config(
        broker, None, display=dataclasses.replace(DisplaySettings(driver="dummy"), brightness=10, night=night)
    )
    rec = Recorder(broker, BRIGHTNESS)
    try:
        with running(Node(cfg, recording_panel(serial), now=lambda: clock["now"])) as node:
            assert rec.wait_for(BRIGHTNESS) == b"10"  # the level that was set, not the dimmed one
            wait_until(lambda: intensities(serial) == {4}, 5, "the night level 4")
            publish(broker, BRIGHTNESS_SET, b"2", retain=False)
            rec.wait_for(BRIGHTNESS, lambda p: p == b"2")
            wait_until(lambda: intensities(serial) == {2}, 5, "2: dimmer than the night level")
            publish(broker, BRIGHTNESS_SET, b"12", retain=False)
            rec.wait_for(BRIGHTNESS, lambda p: p == b"12")
            wait_until(lambda: intensities(serial) == {4}, 5, "the night never brightens beyond its level")
            clock["now"] = datetime(2026, 11, 27, 7, 30).astimezone()
            node.wake()
            wait_until(lambda: intensities(serial) == {12}, 5, "12 in the morning")
    finally:
        rec.close()


def test_disabled_announces_nothing_and_ignores_home_assistant_status(broker: Broker) -> None:
    rec = Recorder(broker, ["homeassistant/#", SHOWING])
    try:
        with running(Node(node_config(broker, None, homeassistant=False), dummy_panel(), jitter=lambda: 0.0)):
            rec.wait_for(SHOWING)
            publish(broker, "homeassistant/status", b"online", retain=False)
            publish(broker, "homeassistant/sentinel", b"x", retain=False)
            rec.wait_for("homeassistant/sentinel")
        assert [m.topic for m in rec.messages if m.topic.startswith("homeassistant/")] == [
            "homeassistant/status",
            "homeassistant/sentinel",
        ]
    finally:
        rec.close()


# --- `fdc display` as a process ------------------------------------------------------------------------------


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    cfg = tmp_path / "display.yaml"
    cfg.write_text(
        f"node_id: {NODE}\nstate_file: {tmp_path / 'state.json'}\nmqtt: {{host: 127.0.0.1, port: {port}}}\n"
        f"display: {{driver: dummy}}\n{extra}"
    )
    return cfg


def test_fdc_display_announces_reannounces_and_removes_discovery(broker: Broker, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, broker.port)
    rec = Recorder(broker, "homeassistant/#")
    log = tmp_path / "node.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(fdc("display", "-c", str(cfg)), stderr=err, cwd=ROOT)
    try:
        number = json.loads(rec.wait_for(NUMBER_CONFIG, timeout=20))
        assert number["command_topic"] == BRIGHTNESS_SET
        for t in CONFIGS:
            rec.wait_for(t)
        n = len(rec.on(NUMBER_CONFIG))
        publish(broker, "homeassistant/status", b"online", retain=False)  # Home Assistant restarted
        rec.wait_for(NUMBER_CONFIG, lambda p: len(rec.on(NUMBER_CONFIG)) > n, timeout=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rec.close()
    assert "Traceback" not in log.read_text()

    assert len(retained_topics(broker, "homeassistant/#")) == 4  # what the removal must clear
    r = subprocess.run(
        fdc("display", "-c", str(cfg), "--remove-discovery"), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"removed 4 Home Assistant discovery config(s) of display node '{NODE}'"
    assert retained_topics(broker, "homeassistant/#") == []  # the retained configs are gone


def test_remove_discovery_without_a_broker_exits_3_with_a_sentence(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, free_port())
    r = subprocess.run(
        fdc("display", "-c", str(cfg), "--remove-discovery"), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 3
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("fdc display: cannot reach the MQTT broker at mqtt://127.0.0.1:"), r.stderr
    assert "check mqtt.host and mqtt.port" in last and "Traceback" not in r.stderr


def test_remove_discovery_with_home_assistant_disabled_has_nothing_to_do(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, free_port(), "homeassistant: {enabled: false}\n")
    r = subprocess.run(
        fdc("display", "-c", str(cfg), "--remove-discovery"), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 0 and "nothing to remove" in r.stderr


# --- the project's mosquitto ACL ------------------------------------------------------------------------------


def test_under_the_project_acl_a_display_announces_and_home_assistant_dims_it(tmp_path: Path) -> None:
    broker = ProjectBroker(nodes=(NODE,))
    broker.start()
    ha_client = None
    try:
        ha_client = broker.client("homeassistant").subscribe("homeassistant/#", f"{PREFIX}/displays/#")
        settings = MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            client_id="fdc-display-acl",
            username=NODE,
            password=broker.password(NODE),
        )
        cfg = DisplayConfig(
            node_id=NODE, mqtt=settings, display=DisplaySettings(driver="dummy"), state_file=tmp_path / "s.json"
        )
        with running(Node(cfg, dummy_panel(), jitter=lambda: 0.0)) as node:
            for t in CONFIGS:  # the display may publish its own discovery
                assert json.loads(ha_client.wait_for(t).payload)["device"]["identifiers"] == [
                    f"fdc_friday-deploy_{NODE}"
                ]
            ha_client.wait_for(BRIGHTNESS, lambda m: m.payload == b"8")  # ... and its brightness state
            ha_client.publish(BRIGHTNESS_SET, "3")  # Home Assistant may command it
            ha_client.wait_for(BRIGHTNESS, lambda m: m.payload == b"3")
            assert node.brightness == 3
            n = len(ha_client.received(NUMBER_CONFIG))
            ha_client.publish("homeassistant/status", "online")  # the display may read Home Assistant's birth
            wait_until(lambda: len(ha_client.received(NUMBER_CONFIG)) > n, 15, "the display to announce again")
    finally:
        if ha_client is not None:
            ha_client.close()
        broker.close()


def test_logging_is_quiet_for_good_commands(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fdc.display")
    rec = Recorder(broker, BRIGHTNESS)
    try:
        with running(Node(node_config(broker, None), dummy_panel())):
            rec.wait_for(BRIGHTNESS)
            publish(broker, BRIGHTNESS_SET, b"  9 ", retain=False)
            rec.wait_for(BRIGHTNESS, lambda p: p == b"9")
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "brightness" in r.getMessage()]
    finally:
        rec.close()


def test_the_showing_attributes_are_none_home_assistant_drops() -> None:
    """The Showing sensor's attributes are the `showing` JSON itself; HA drops reserved names (its
    MQTT_ATTRIBUTES_BLOCKED), so none of its keys may be one."""
    from display_node.node import Showing, showing_payload

    payload = json.loads(showing_payload(Showing("12", 12, True, "publisher_offline"), "2026-11-26T09:00:03+01:00"))
    assert payload == {
        "text": "12",
        "value": 12,
        "stale": True,
        "at": "2026-11-26T09:00:03+01:00",
        "stale_reason": "publisher_offline",
    }
    assert not set(payload) & ha.BLOCKED_ATTRIBUTES
    assert configs()[SHOWING_CONFIG]["json_attributes_topic"] == SHOWING
