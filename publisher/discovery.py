"""The publisher's Home Assistant entities, as discovery messages. Pure: the service sends them.

A device "Friday Deploy Counter" (plus the topic prefix when it is not the default) with the weeks sensor
(attributes: the last Friday deployment, its `state` as `outcome`, and the record), a timestamp sensor for that
deployment's start, a problem sensor that is on while `state.error` says a source (or the clock) is wrong, a
connectivity sensor for the publisher itself, the record sensor (`<prefix>/record`, its run's dates as attributes)
and an event entity fed by `<prefix>/events`, so an automation can react to a Friday deployment.
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
# ... plus `record`: the record run's weeks from `state.record` (null until the publisher has one), read with
# `.get` because a publisher that does not send the key must not fill Home Assistant's log with warnings.
ATTRIBUTES_TEMPLATE = (
    "{% set d = value_json.last_friday_deploy %}{% set r = value_json.get('record') %}"
    "{% set record = r.get('weeks') if r else None %}{% if d %}{{ {"
    + ", ".join(f"'{name}': d.get('{key}')" for name, key in ATTRIBUTE_KEYS.items())
    + ", 'record': record} | tojson }}{% else %}{{ {'record': record} | tojson }}{% endif %}"
)
# The Problem sensor: on while `<prefix>/state`'s `error` is set; the sentence is its `error` attribute.
PROBLEM_TEMPLATE = "{{ 'ON' if value_json.error else 'OFF' }}"
ERROR_TEMPLATE = "{{ {'error': value_json.error or None} | tojson }}"
# The Record sensor's attributes: the record run's dates from `state.record` (`until` null while the current run
# holds it), with `.get` like ATTRIBUTES_TEMPLATE.
RECORD_ATTRIBUTES_TEMPLATE = (
    "{% set r = value_json.get('record') %}"
    "{{ {'from': r.get('from') if r else None, 'until': r.get('until') if r else None} | tojson }}"
)
EVENT_TYPES = ["friday_deploy"]  # publisher/events.EVENT: the `event_type` of `<prefix>/events`


def publisher_discovery(
    topics: Topics, discovery_prefix: str, configuration_url: str | None = None
) -> list[ha.Discovery]:
    """Discovery configs for one counter (one `topic_prefix`); ids derive from the prefix, never from names.
    `configuration_url`: the source's web UI (PublisherConfig.web_url()), the device page's "Visit" link."""
    node = ha.slug(topics.prefix)
    name = ha.device_name("Friday Deploy Counter", topics.prefix)
    dev = ha.device(ha.publisher_identifier(topics.prefix), name, "Publisher", configuration_url=configuration_url)
    available = ha.availability(topics.status)
    weeks = ha.entity(
        "sensor",
        "weeks",
        "Weeks",
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
    problem = ha.entity(
        "binary_sensor",
        "problem",
        "Problem",
        dev,
        state_topic=topics.state,
        value_template=PROBLEM_TEMPLATE,
        json_attributes_topic=topics.state,
        json_attributes_template=ERROR_TEMPLATE,
        device_class="problem",  # no icon: HA's problem icons change with the state
        availability=available,
    )
    record = ha.entity(
        "sensor",
        "record",
        "Record",
        dev,
        state_topic=topics.record,
        unit_of_measurement="w",
        state_class="measurement",
        icon="mdi:trophy",
        json_attributes_topic=topics.state,
        json_attributes_template=RECORD_ATTRIBUTES_TEMPLATE,
        availability=available,
    )
    friday_deploy = ha.entity(
        "event",
        "friday_deploy",
        "Friday deploy",
        dev,
        state_topic=topics.events,
        event_types=EVENT_TYPES,
        icon="mdi:rocket-launch-outline",
        availability=available,
    )
    return [
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node, "weeks"), weeks),
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node, "last_friday_deploy"), last),
        ha.Discovery(ha.config_topic(discovery_prefix, "binary_sensor", node, "publisher"), status),
        ha.Discovery(ha.config_topic(discovery_prefix, "binary_sensor", node, "problem"), problem),
        ha.Discovery(ha.config_topic(discovery_prefix, "sensor", node, "record"), record),
        ha.Discovery(ha.config_topic(discovery_prefix, "event", node, "friday_deploy"), friday_deploy),
    ]
