"""The publisher's Home Assistant entities, as discovery messages. Pure: the service sends them.

A device "Friday Deploy Counter" with the weeks sensor (attributes: the last Friday deployment, its `state` as
`outcome`), a timestamp sensor for that deployment's start, and a connectivity sensor for the publisher itself.
"""

from __future__ import annotations

from common import homeassistant as ha
from common.topics import Topics

LAST_DEPLOY_TEMPLATE = (
    "{% if value_json.last_friday_deploy %}{{ value_json.last_friday_deploy.started }}{% else %}None{% endif %}"
)
# The weeks sensor's attributes: the last Friday deployment from `<prefix>/state`, each key under its own name
# except `state`, which Home Assistant reserves (ha.BLOCKED_ATTRIBUTES) and would drop: it is called `outcome`.
ATTRIBUTE_KEYS = {
    "project": "project",
    "environment": "environment",
    "version": "version",
    "outcome": "state",
    "started": "started",
    "finished": "finished",
    "result_id": "result_id",
    "url": "url",
    "source": "source",
}
ATTRIBUTES_TEMPLATE = (
    "{% set d = value_json.last_friday_deploy %}{% if d %}{{ {"
    + ", ".join(f"'{name}': d.get('{key}')" for name, key in ATTRIBUTE_KEYS.items())
    + "} | tojson }}{% else %}{}{% endif %}"
)


def publisher_discovery(topics: Topics, discovery_prefix: str) -> list[ha.Discovery]:
    """Discovery configs for one counter (one `topic_prefix`); ids derive from the prefix, never from names."""
    node = ha.slug(topics.prefix)
    dev = ha.device(f"fdc_{node}", "Friday Deploy Counter", "Publisher")
    available = ha.availability(topics.status)
    weeks = ha.entity(
        "sensor",
        "weeks",
        "Weeks since Friday deploy",
        dev,
        state_topic=topics.weeks,
        unit_of_measurement="w",  # no device_class "duration": HA 2025.10+ rejects "w" there and drops the entity
        state_class="measurement",
        icon="mdi:calendar-alert",
        json_attributes_topic=topics.state,
        json_attributes_template=ATTRIBUTES_TEMPLATE,
        availability=available,
    )
    last = ha.entity(
        "sensor",
        "last_friday_deploy",
        "Last Friday deploy",
        dev,
        state_topic=topics.state,
        value_template=LAST_DEPLOY_TEMPLATE,
        device_class="timestamp",
        icon="mdi:rocket-launch",
        availability=available,
    )
    status = ha.entity(
        "binary_sensor",
        "publisher",
        "Publisher",
        dev,
        state_topic=topics.status,
        payload_on="online",
        payload_off="offline",
        device_class="connectivity",
        entity_category="diagnostic",
    )
    return [
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node, "weeks"), weeks),
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node, "last_friday_deploy"), last),
        ha.Discovery(ha.config_topic(discovery_prefix, "binary_sensor", node, "publisher"), status),
    ]
