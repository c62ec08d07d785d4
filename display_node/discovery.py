"""A display node's Home Assistant entities, as discovery messages. Pure: the node sends them.

One device per node, linked to the publisher's device (`via_device`, same topic prefix): its connectivity, what it
shows, whether that is stale and why, and a brightness control (`number`, 0-15). The config topics use the node's
own `node_id` as Home Assistant's node id, because the broker's ACL lets a display write
`homeassistant/+/<its user name>/#` only, and its user name is its node_id.
"""

from __future__ import annotations

from common import homeassistant as ha
from common.topics import Topics

RESEND_JITTER = 5.0  # seconds; spreads the re-announcements of many nodes after Home Assistant restarts
BRIGHTNESS_MIN, BRIGHTNESS_MAX = 0, 15  # the MAX7219's 16 intensity steps
# `text` is what is lit; "" means the LEDs are dark (night schedule, or stopped without `persist`)
SHOWING_TEMPLATE = "{{ value_json.text if value_json.text else 'dark' }}"
# The Stale sensor: on while the stale mark is lit; `reason` from `showing`'s `stale_reason` ("publisher offline").
# `.get`: a node from before `stale_reason` existed must not fill Home Assistant's log with warnings.
STALE_TEMPLATE = "{{ 'ON' if value_json.stale else 'OFF' }}"
STALE_ATTRIBUTES_TEMPLATE = (
    "{% set r = value_json.get('stale_reason') %}{{ {'reason': r | replace('_', ' ') if r else None} | tojson }}"
)


def device_identifier(topics: Topics, node_id: str) -> str:
    """Stable: from the topic prefix and the node_id, never from a name someone can rename in HA."""
    return f"fdc_{ha.slug(topics.prefix)}_{node_id}"


def display_discovery(
    topics: Topics, node_id: str, discovery_prefix: str, area: str | None = None
) -> list[ha.Discovery]:
    """Discovery configs for one display node: connectivity, the Showing sensor, the Stale problem sensor, the
    Brightness number. `area`: the config's `area`, which Home Assistant puts a new device in."""
    dev = ha.device(
        device_identifier(topics, node_id),
        ha.device_name(f"Friday Deploy display {node_id}", topics.prefix),
        "Display node",
        suggested_area=area,
        via_device=ha.publisher_identifier(topics.prefix),
    )
    status_topic = topics.display_status(node_id)
    available = ha.availability(status_topic)
    status = ha.entity(
        "binary_sensor",
        "status",
        "Connectivity",
        dev,
        state_topic=status_topic,
        payload_on="online",
        payload_off="offline",
        device_class="connectivity",  # not diagnostic: a display that went dark is news for the dashboard
    )
    showing = ha.entity(
        "sensor",
        "showing",
        "Showing",
        dev,
        state_topic=topics.display_showing(node_id),
        value_template=SHOWING_TEMPLATE,
        json_attributes_topic=topics.display_showing(node_id),
        icon="mdi:dots-grid",
        availability=available,
    )
    stale = ha.entity(
        "binary_sensor",
        "stale",
        "Stale",
        dev,
        state_topic=topics.display_showing(node_id),
        value_template=STALE_TEMPLATE,
        json_attributes_topic=topics.display_showing(node_id),
        json_attributes_template=STALE_ATTRIBUTES_TEMPLATE,
        device_class="problem",
        availability=available,
    )
    brightness = ha.entity(
        "number",
        "brightness",
        "Brightness",
        dev,
        command_topic=topics.display_brightness_set(node_id),
        state_topic=topics.display_brightness(node_id),
        min=BRIGHTNESS_MIN,
        max=BRIGHTNESS_MAX,
        step=1,
        mode="slider",
        icon="mdi:brightness-6",
        availability=available,
    )
    return [
        ha.Discovery(ha.config_topic(discovery_prefix, "binary_sensor", node_id, "status"), status),
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node_id, "showing"), showing),
        ha.Discovery(ha.config_topic(discovery_prefix, "binary_sensor", node_id, "stale"), stale),
        ha.Discovery(ha.config_topic(discovery_prefix, "number", node_id, "brightness"), brightness),
    ]
