"""A display node's Home Assistant entities, as discovery messages. Pure: the node sends them.

One device per node: its connectivity, what it shows, and a brightness control (`number`, 0-15). The config
topics use the node's own `node_id` as Home Assistant's node id, because the broker's ACL lets a display write
`homeassistant/+/<its user name>/#` only, and its user name is its node_id.
"""

from __future__ import annotations

from common import homeassistant as ha
from common.topics import Topics

RESEND_JITTER = 5.0  # seconds; spreads the re-announcements of many nodes after Home Assistant restarts
BRIGHTNESS_MIN, BRIGHTNESS_MAX = 0, 15  # the MAX7219's 16 intensity steps
# `text` is what is lit; "" means the LEDs are dark (night schedule, or stopped without `persist`)
SHOWING_TEMPLATE = "{{ value_json.text if value_json.text else 'dark' }}"


def device_identifier(topics: Topics, node_id: str) -> str:
    """Stable: from the topic prefix and the node_id, never from a name someone can rename in HA."""
    return f"fdc_{ha.slug(topics.prefix)}_{node_id}"


def display_discovery(topics: Topics, node_id: str, discovery_prefix: str) -> list[ha.Discovery]:
    """Discovery configs for one display node: connectivity, the Showing sensor, the Brightness number."""
    dev = ha.device(device_identifier(topics, node_id), f"Friday Deploy display {node_id}", "Display node")
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
        device_class="connectivity",
        entity_category="diagnostic",
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
        ha.Discovery(ha.config_topic(discovery_prefix, "number", node_id, "brightness"), brightness),
    ]
