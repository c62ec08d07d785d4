"""The Record sensor and the Friday deploy event entity: their discovery configs checked against the schema Home
Assistant's MQTT integration applies (homeassistant/components/mqtt/event.py DISCOVERY_SCHEMA, sensor.py), and
`<prefix>/events` read the way HA's MQTT event entity reads it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import voluptuous as vol

from common import homeassistant as ha
from common.topics import Topics
from publisher.discovery import EVENT_TYPES, RECORD_ATTRIBUTES_TEMPLATE, publisher_discovery
from publisher.events import EVENT, FridayEvent
from tests.factories import BERLIN, at, dep

# What every MQTT entity takes (MQTT_ENTITY_COMMON_SCHEMA and the availability schema), as used here.
COMMON = {
    vol.Required("name"): str,
    vol.Required("unique_id"): str,
    vol.Optional("object_id"): str,
    vol.Optional("default_entity_id"): str,
    vol.Required("device"): dict,
    vol.Required("origin"): dict,
    vol.Optional("availability"): [{"topic": str, "payload_available": str, "payload_not_available": str}],
    vol.Optional("icon"): vol.Match(r"^mdi:[a-z0-9-]+$"),
    vol.Optional("json_attributes_topic"): str,
    vol.Optional("json_attributes_template"): str,
    vol.Optional("entity_category"): vol.In(["config", "diagnostic"]),
}
# homeassistant/components/mqtt/event.py: MQTT_RO_SCHEMA + device_class (EventDeviceClass) + name + event_types.
EVENT_SCHEMA = vol.Schema(
    {
        **COMMON,
        vol.Required("state_topic"): str,
        vol.Optional("value_template"): str,
        vol.Optional("qos"): vol.In([0, 1, 2]),
        vol.Optional("encoding"): str,
        vol.Optional("device_class"): vol.All(vol.Lower, vol.In(["button", "doorbell", "motion"])),
        vol.Required("event_types"): [str],
    },
    extra=vol.PREVENT_EXTRA,
)
SENSOR_SCHEMA = vol.Schema(
    {
        **COMMON,
        vol.Required("state_topic"): str,
        vol.Optional("value_template"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("state_class"): vol.In(["measurement", "total", "total_increasing", "measurement_angle"]),
        vol.Optional("device_class"): str,
    },
    extra=vol.PREVENT_EXTRA,
)


def configs() -> dict[str, dict[str, Any]]:
    return {d.topic: d.config for d in publisher_discovery(Topics(), "homeassistant") if d.config is not None}


def test_the_record_sensor() -> None:
    r = configs()["homeassistant/sensor/friday-deploy/record/config"]
    SENSOR_SCHEMA(r)
    assert set(r) <= ha.KNOWN_KEYS
    assert (r["name"], r["state_topic"], r["unit_of_measurement"], r["state_class"]) == (
        "Record",
        "friday-deploy/record",
        "w",
        "measurement",
    )
    assert "device_class" not in r  # "w" with duration: HA 2025.10+ drops the entity, as for Weeks
    assert r["json_attributes_topic"] == "friday-deploy/state" and r["json_attributes_template"] == (
        RECORD_ATTRIBUTES_TEMPLATE
    )
    assert "'from'" in RECORD_ATTRIBUTES_TEMPLATE and "'until'" in RECORD_ATTRIBUTES_TEMPLATE
    assert not {"from", "until"} & ha.BLOCKED_ATTRIBUTES
    assert r["availability"][0]["topic"] == "friday-deploy/status"


def test_the_event_entity() -> None:
    e = configs()["homeassistant/event/friday-deploy/friday_deploy/config"]
    EVENT_SCHEMA(e)
    assert set(e) <= ha.KNOWN_KEYS and set(e) - set(COMMON) <= ha.EVENT_KEYS
    assert (e["name"], e["state_topic"], e["event_types"]) == ("Friday deploy", "friday-deploy/events", [EVENT])
    assert e["default_entity_id"] == "event.fdc_friday-deploy_friday_deploy" and EVENT_TYPES == [EVENT]
    assert not e["name"].startswith("Friday Deploy Counter")  # has_entity_name: HA puts the device name first


def read_like_home_assistant(payload: bytes, event_types: list[str]) -> tuple[str, dict[str, Any]]:
    """MqttEvent._event_received: a JSON object, `event_type` popped and checked, the rest are its attributes."""
    attributes = json.loads(payload)
    assert isinstance(attributes, dict)
    event_type = str(attributes.pop("event_type"))
    assert event_type in event_types
    return event_type, attributes


def test_the_events_payload_is_what_the_event_entity_reads() -> None:
    friday = date(2026, 12, 4)
    event = FridayEvent(4, dep(at("2026-12-04 16:42"), at("2026-12-04 16:51"), result_id=42))
    payload = json.dumps(event.payload(datetime(2026, 12, 4, 15, 52, tzinfo=UTC), BERLIN)).encode()
    kind, attributes = read_like_home_assistant(payload, configs()["homeassistant/event/friday-deploy/friday_deploy/"
                                                                   "config"]["event_types"])  # fmt: skip
    assert kind == "friday_deploy"
    assert attributes["event"] == "friday_deploy" and attributes["weeks_before"] == 4  # the contract's keys stay
    assert attributes["at"] == "2026-12-04T16:52:00+01:00"
    assert attributes["deployment"]["started"].startswith(friday.isoformat())
    assert not set(attributes) & (ha.BLOCKED_ATTRIBUTES | ha.EVENT_BLOCKED_ATTRIBUTES)
