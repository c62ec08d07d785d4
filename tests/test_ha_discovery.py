"""Home Assistant discovery: payloads checked key by key (HA drops unknown keys silently), then end to end."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from common import homeassistant as ha
from common.topics import Topics
from publisher.discovery import publisher_discovery
from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder, retained_topics
from tests.publisher_run import PREFIX, config, fdc, spawn

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"name", "unique_id", "object_id", "default_entity_id", "device", "origin"}


PROBLEM_CONFIG = "homeassistant/binary_sensor/friday-deploy/problem/config"
# The entity ids Home Assistant gives the publisher's entities (from `default_entity_id`/`object_id`): the same
# before and after the names were shortened (issue 16), plus the new Problem sensor's.
ENTITY_IDS = [
    "sensor.fdc_friday-deploy_weeks",
    "sensor.fdc_friday-deploy_last_friday_deploy",
    "binary_sensor.fdc_friday-deploy_publisher",
    "binary_sensor.fdc_friday-deploy_problem",
    "sensor.fdc_friday-deploy_record",
    "event.fdc_friday-deploy_friday_deploy",
]


def configs(prefix: str = "friday-deploy", url: str | None = None) -> dict[str, dict[str, Any]]:
    out = {}
    for d in publisher_discovery(Topics(prefix), "homeassistant", url):
        assert d.config is not None
        out[d.topic] = d.config
    return out


def test_topics_and_ids() -> None:
    c = configs()
    assert sorted(c) == [
        "homeassistant/binary_sensor/friday-deploy/problem/config",
        "homeassistant/binary_sensor/friday-deploy/publisher/config",
        "homeassistant/event/friday-deploy/friday_deploy/config",
        "homeassistant/sensor/friday-deploy/last_friday_deploy/config",
        "homeassistant/sensor/friday-deploy/record/config",
        "homeassistant/sensor/friday-deploy/weeks/config",
    ]
    ids = [x["unique_id"] for x in c.values()]
    assert ids == [
        "fdc_friday-deploy_weeks",
        "fdc_friday-deploy_last_friday_deploy",
        "fdc_friday-deploy_publisher",
        "fdc_friday-deploy_problem",
        "fdc_friday-deploy_record",
        "fdc_friday-deploy_friday_deploy",
    ]
    assert [x["default_entity_id"] for x in c.values()] == ENTITY_IDS
    assert all(ha.ID_RE.match(i) for i in ids) and len(set(ids)) == len(ids)
    for topic, x in c.items():
        component = topic.split("/")[1]
        assert x["default_entity_id"] == f"{component}.{x['unique_id']}" and x["object_id"] == x["unique_id"]


def test_every_key_is_one_home_assistant_knows() -> None:
    for x in [*configs().values(), *configs("acme/fdc", "https://bamboo.example.com/deploy/x.action").values()]:
        assert set(x) >= REQUIRED, set(x)
        assert set(x) <= ha.KNOWN_KEYS, set(x) - ha.KNOWN_KEYS
        assert set(x["origin"]) == {"name", "sw_version", "support_url"}
        assert set(x["device"]) >= {"identifiers", "name", "manufacturer", "model", "sw_version"}
        assert set(x["device"]) <= ha.DEVICE_KEYS, set(x["device"]) - ha.DEVICE_KEYS
        assert "availability_topic" not in x
    assert {x["device"]["identifiers"][0] for x in configs().values()} == {"fdc_friday-deploy"}
    assert {"via_device", "suggested_area", "configuration_url"} <= ha.DEVICE_KEYS


def is_configuration_url(value: str) -> bool:
    """Home Assistant's cv.configuration_url: http(s) (or homeassistant://) and voluptuous' Url()."""
    try:
        vol.Schema(vol.Url())(value)
    except vol.Invalid:
        return False
    return value.split(":", 1)[0] in ("http", "https", "homeassistant")


def test_names_read_well_and_tell_two_counters_apart() -> None:
    """HA shows `<device name> <entity name>`: entity names never repeat the device name, and the device name
    carries a topic prefix that is not the default."""
    c = configs()
    names = {t.split("/")[3]: x["name"] for t, x in c.items()}
    assert names == {
        "weeks": "Weeks",
        "last_friday_deploy": "Last Friday deploy",
        "publisher": "Publisher",
        "problem": "Problem",
        "record": "Record",
        "friday_deploy": "Friday deploy",
    }
    assert {x["device"]["name"] for x in c.values()} == {"Friday Deploy Counter"}
    assert not any("Friday Deploy Counter" in n for n in names.values())
    other = configs("acme/fdc")
    assert {x["device"]["name"] for x in other.values()} == {"Friday Deploy Counter (acme/fdc)"}
    assert {x["device"]["identifiers"][0] for x in other.values()} == {"fdc_acme_fdc"}
    assert {x["unique_id"] for x in other.values()}.isdisjoint({x["unique_id"] for x in c.values()})


def test_the_device_links_to_the_sources_web_ui(tmp_path: Path, bamboo: BambooSim) -> None:
    """configuration_url: the first configured source's web UI (Bamboo's deployment projects), else none."""
    from publisher.config import load

    assert all("configuration_url" not in x["device"] for x in configs().values())
    path = config(tmp_path, bamboo, 1883)
    path.write_text(path.read_text().replace("  timeout: 3\n", "  timeout: 3\n  token: t\n"))
    cfg = load(path)
    url = cfg.web_url()
    assert url == f"{bamboo.url}/deploy/viewAllDeploymentProjects.action"
    assert url is not None and is_configuration_url(url)
    assert {x["device"]["configuration_url"] for x in configs(url=url).values()} == {url}


def test_weeks_sensor() -> None:
    w = configs()["homeassistant/sensor/friday-deploy/weeks/config"]
    assert w["state_topic"] == "friday-deploy/weeks" and w["unit_of_measurement"] == "w"
    assert "device_class" not in w  # "w" with device_class duration makes HA 2025.10+ drop the entity
    assert w["state_class"] == "measurement" and "expire_after" not in w
    assert w["json_attributes_topic"] == "friday-deploy/state"
    assert w["availability"] == [
        {"topic": "friday-deploy/status", "payload_available": "online", "payload_not_available": "offline"}
    ]


def test_timestamp_and_connectivity() -> None:
    c = configs()
    last = c["homeassistant/sensor/friday-deploy/last_friday_deploy/config"]
    assert last["device_class"] == "timestamp" and last["state_topic"] == "friday-deploy/state"
    assert "value_json.last_friday_deploy.started" in last["value_template"]
    pub = c["homeassistant/binary_sensor/friday-deploy/publisher/config"]
    assert (pub["device_class"], pub["payload_on"], pub["payload_off"]) == ("connectivity", "online", "offline")
    assert "availability" not in pub  # it is the availability


def test_problem_sensor() -> None:
    """On while `<prefix>/state`'s `error` is set (HA's default payload_on/off: ON/OFF), the sentence as `error`."""
    from publisher.discovery import ERROR_TEMPLATE, PROBLEM_TEMPLATE

    p = configs()[PROBLEM_CONFIG]
    assert (p["device_class"], p["state_topic"], p["json_attributes_topic"]) == (
        "problem",
        "friday-deploy/state",
        "friday-deploy/state",
    )
    assert p["value_template"] == PROBLEM_TEMPLATE == "{{ 'ON' if value_json.error else 'OFF' }}"
    assert p["json_attributes_template"] == ERROR_TEMPLATE and "'error': value_json.error" in ERROR_TEMPLATE
    assert "payload_on" not in p and "entity_category" not in p  # a normal entity, on the default dashboard
    assert p["availability"] == [
        {"topic": "friday-deploy/status", "payload_available": "online", "payload_not_available": "offline"}
    ]
    assert "error" not in ha.BLOCKED_ATTRIBUTES


def test_ids_are_checked() -> None:
    with pytest.raises(ValueError):
        ha.config_topic("homeassistant", "sensor", "bad id", "x")
    assert ha.slug("a/b c") == "a_b_c"


def test_publisher_announces_reannounces_and_removes(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    rec = Recorder(broker, ["homeassistant/#", f"{PREFIX}/#"])
    cfg = config(tmp_path, bamboo, broker.port)
    proc = spawn("publisher", "-c", str(cfg))
    weeks_topic = "homeassistant/sensor/friday-deploy/weeks/config"
    try:
        weeks = json.loads(rec.wait_for(weeks_topic, timeout=20))
        assert rec.wait_for(weeks["state_topic"], lambda p: p == b"3", timeout=20) == b"3"
        state = json.loads(rec.wait_for(f"{PREFIX}/state", lambda p: json.loads(p)["weeks"] == 3))
        assert state["last_friday_deploy"]["started"]
        n = len(rec.on(weeks_topic))

        ha_client = Recorder(broker, "nothing/here")
        ha_client.client.publish("homeassistant/status", b"online").wait_for_publish(5)  # HA restarted
        ha_client.close()
        rec.wait_for(weeks_topic, lambda p: len(rec.on(weeks_topic)) > n, timeout=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rec.close()

    assert len(retained_topics(broker, "homeassistant/#")) == 6  # what the removal must clear
    r = fdc("publisher", "-c", str(cfg), "--remove-discovery")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "removed 6 Home Assistant discovery config(s)"
    status = Recorder(broker, f"{PREFIX}/status")
    try:  # the removal did not pose as the publisher: the service's clean stop left `offline`
        assert status.wait_for(f"{PREFIX}/status") == b"offline"
    finally:
        status.close()
    assert retained_topics(broker, "homeassistant/#") == []  # the retained configs are gone


def test_the_problem_sensor_follows_a_source_outage(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    """Bamboo answers 503: the last good number stays, `state.error` (what the Problem sensor reads) says why,
    and the device's configuration_url is Bamboo's deployment projects page."""
    rec = Recorder(broker, ["homeassistant/#", f"{PREFIX}/#"])
    proc = spawn("publisher", "-c", str(config(tmp_path, bamboo, broker.port)))
    try:
        problem = json.loads(rec.wait_for(PROBLEM_CONFIG, timeout=20))
        assert problem["device"]["configuration_url"] == f"{bamboo.url}/deploy/viewAllDeploymentProjects.action"
        topic = problem["state_topic"]
        rec.wait_for(topic, lambda p: json.loads(p)["weeks"] == 3 and json.loads(p)["error"] is None, timeout=20)
        bamboo.fail_next(503, times=100_000)
        bad = json.loads(rec.wait_for(topic, lambda p: bool(json.loads(p)["error"]), timeout=60))
        assert bad["weeks"] == 3 and "Bamboo" in bad["error"], bad
        assert rec.last(f"{PREFIX}/weeks") == b"3"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rec.close()


def test_disabled_announces_nothing(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    cfg = config(tmp_path, bamboo, broker.port)
    cfg.write_text(cfg.read_text() + "homeassistant:\n  enabled: false\n")
    assert fdc("publisher", "-c", str(cfg), "--once").returncode == 0
    rec = Recorder(broker, ["homeassistant/#", f"{PREFIX}/weeks"])
    try:
        rec.wait_for(f"{PREFIX}/weeks")
        assert not any(m.topic.startswith("homeassistant/") for m in rec.messages)
    finally:
        rec.close()


def test_no_attribute_is_one_home_assistant_drops() -> None:
    """HA's MQTT integration silently drops JSON attributes named like its own (MQTT_ATTRIBUTES_BLOCKED): the
    deployment's `state` reaches Home Assistant as `outcome`."""
    from publisher.discovery import ATTRIBUTE_KEYS, ATTRIBUTES_TEMPLATE

    assert {"state", "name", "icon", "unique_id", "friendly_name"} <= ha.BLOCKED_ATTRIBUTES
    pairs = dict(re.findall(r"'(\w+)': d\.get\('(\w+)'\)", ATTRIBUTES_TEMPLATE))
    assert pairs == ATTRIBUTE_KEYS and pairs["outcome"] == "state"
    assert not set(pairs) & ha.BLOCKED_ATTRIBUTES
    w = configs()["homeassistant/sensor/friday-deploy/weeks/config"]
    assert w["json_attributes_template"] == ATTRIBUTES_TEMPLATE
    # every key of the contract's last_friday_deploy is shown, and under a name Home Assistant keeps
    contract = ROOT.parent / "shared" / "design" / "CONTRACT.md"
    if not contract.exists():
        return
    example = json.loads(contract.read_text().split("`<prefix>/state`:\n```json\n", 1)[1].split("```", 1)[0])
    assert set(example["last_friday_deploy"]) == set(pairs.values())
