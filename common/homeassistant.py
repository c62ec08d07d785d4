"""Home Assistant MQTT discovery: the pieces the publisher's and the display nodes' entities share. Pure.

Facts this follows (HA 2024.3 … 2026.11): config topic `<discovery_prefix>/<component>/<node_id>/<object_id>/config`
with ids of `[a-zA-Z0-9_-]` only; `availability` as a list (never mixed with `availability_topic`); both
`object_id` (read before 2025.10) and `default_entity_id` (read from 2025.10); unknown keys are dropped
silently by HA, so the key names here are checked by tests against the list below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common import __version__
from common.topics import DEFAULT_PREFIX

SUPPORT_URL = "https://github.com/friday-deploy-counter/friday-deploy-counter"
MANUFACTURER = "Friday Deploy Counter"
ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")

# Every key this project sends, as HA's MQTT integration spells it (abbreviations are not used).
KNOWN_KEYS = frozenset(
    {
        "name", "unique_id", "object_id", "default_entity_id", "device", "origin", "availability",
        "availability_mode", "state_topic", "value_template", "unit_of_measurement", "state_class",
        "device_class", "json_attributes_topic", "json_attributes_template", "icon", "entity_category",
        "payload_on", "payload_off", "command_topic", "min", "max", "step", "mode", "retain", "qos",
        "platform", "event_types",
    }
)  # fmt: skip

# The `device` keys, as MQTT_ENTITY_DEVICE_INFO_SCHEMA in homeassistant/components/mqtt/schemas.py spells them
# (every release this project supports has them all; HA drops an unknown one silently, like an entity key).
DEVICE_KEYS = frozenset(
    {
        "identifiers", "connections", "manufacturer", "model", "name", "hw_version", "serial_number",
        "sw_version", "via_device", "suggested_area", "configuration_url",
    }
)  # fmt: skip

# The keys of an MQTT `event` entity beyond the common ones, as DISCOVERY_SCHEMA in homeassistant/components/mqtt/
# event.py spells them (MQTT_RO_SCHEMA: state_topic, value_template, qos, encoding; its own: event_types
# (required), device_class, name); `<prefix>/events` must carry `event_type`, and `event_type`/`event_types`
# are not taken as event attributes (MQTT_EVENT_ATTRIBUTES_BLOCKED).
EVENT_KEYS = frozenset({"state_topic", "value_template", "qos", "encoding", "event_types", "device_class", "name"})
EVENT_BLOCKED_ATTRIBUTES = frozenset({"event_type", "event_types"})

# JSON attribute names Home Assistant's MQTT integration drops from `json_attributes_topic` payloads, so an
# attribute must never be called like one of these: MQTT_ATTRIBUTES_BLOCKED in homeassistant/components/mqtt/
# (entity.py since 2024.x, mixins.py before), the union of the releases this project supports.
BLOCKED_ATTRIBUTES = frozenset(
    {
        "assumed_state", "available", "context_recent_time", "device_class", "device_info", "entity_category",
        "entity_picture", "entity_registry_enabled_default", "extra_state_attributes", "force_update",
        "friendly_name", "icon", "name", "should_poll", "state", "supported_features", "unique_id",
        "unit_of_measurement",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Discovery:
    """One retained discovery message: where it goes and what it says (None: remove the entity)."""

    topic: str
    config: dict[str, Any] | None


def slug(text: str) -> str:
    """Anything → the id charset HA accepts (`friday-deploy` → `friday-deploy`, `a/b c` → `a_b_c`)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text).strip("_") or "fdc"


def config_topic(discovery_prefix: str, component: str, node_id: str, object_id: str) -> str:
    for part in (component, node_id, object_id):
        if not ID_RE.match(part):
            raise ValueError(f"{part!r} is not a valid Home Assistant discovery id")
    return f"{discovery_prefix}/{component}/{node_id}/{object_id}/config"


def origin() -> dict[str, str]:
    return {"name": MANUFACTURER, "sw_version": __version__, "support_url": SUPPORT_URL}


def publisher_identifier(prefix: str) -> str:
    """The publisher's device id: from the topic prefix only, so a display can name it as its `via_device`."""
    return f"fdc_{slug(prefix)}"


def device_name(name: str, prefix: str) -> str:
    """Entity names are shown after the device name (has_entity_name), so the device name is what tells two
    counters apart: it carries the topic prefix unless that is the default."""
    return name if prefix == DEFAULT_PREFIX else f"{name} ({prefix})"


def device(
    identifier: str,
    name: str,
    model: str,
    *,
    configuration_url: str | None = None,
    suggested_area: str | None = None,
    via_device: str | None = None,
) -> dict[str, Any]:
    """A device; the optional keys are left out when unknown (HA's schema has no null for them)."""
    dev: dict[str, Any] = {
        "identifiers": [identifier],
        "name": name,
        "manufacturer": MANUFACTURER,
        "model": model,
        "sw_version": __version__,
    }
    optional = {"configuration_url": configuration_url, "suggested_area": suggested_area, "via_device": via_device}
    dev.update({k: v for k, v in optional.items() if v is not None})
    return dev


def availability(status_topic: str) -> list[dict[str, str]]:
    return [{"topic": status_topic, "payload_available": "online", "payload_not_available": "offline"}]


def entity(component: str, object_id: str, name: str, dev: dict[str, Any], **keys: Any) -> dict[str, Any]:
    """The keys every entity has: name, stable unique id, both entity-id spellings, device, origin.

    HA shows `<device name> <name>` (MQTT entities always have has_entity_name), so `name` never repeats the
    device's. The entity id comes from `object_id`/`default_entity_id`, never from the names, and HA keeps the id
    it registered for a `unique_id`: renaming here changes no entity id."""
    unique = f"{dev['identifiers'][0]}_{object_id}"
    return {
        "name": name,
        "unique_id": unique,
        "object_id": unique,
        "default_entity_id": f"{component}.{unique}",
        "device": dev,
        "origin": origin(),
        **keys,
    }
