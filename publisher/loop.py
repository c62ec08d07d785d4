"""The publisher's service loop: the MQTT link, publishing what the Publisher says, sleeping until the next poll.

Imperative shell around publisher/service.py: poll, publish, wait (waking at local midnight, on a written file,
or on a webhook's hint), repeat; on every (re)connect and Home Assistant birth, announce everything again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import timedelta

from common.mqtt import MqttLink
from common.payloads import OFFLINE, decode_status
from publisher.friday import next_local_midnight
from publisher.service import Publisher

log = logging.getLogger("fdc.publisher")
RETRY_AFTER_ERROR = 60.0  # seconds; a failed poll is retried sooner than poll_interval when that is longer
HA_RESEND_JITTER = 5.0  # seconds; spreads the re-announcements of many clients after Home Assistant restarts
HINT_STEP = 0.5  # seconds; while waiting for a webhook's hint, a stop is still seen this soon


def publish(link: MqttLink, pub: Publisher, with_discovery: bool = False) -> None:
    """The retained topics (after the discovery configs, so HA has the entities before their states), then the
    events the last change made (not retained: after the new number, so an automation sees it)."""
    with pub.publishing:  # one thread at a time (a push, a poll, a connect): an older read never goes out last
        for topic, payload in (pub.discovery() if with_discovery else []) + pub.messages():
            link.publish(topic, payload)
    send_events(link, pub)


def send_events(link: MqttLink, pub: Publisher) -> None:
    """`<prefix>/events`, QoS 1, not retained; while disconnected they are dropped (news, not state)."""
    with pub.publishing:
        for topic, payload in pub.take_events():
            if link.publish(topic, payload, retain=False) is None:
                log.warning("not connected to the broker: an event on %s was not sent", topic)


def make_link(pub: Publisher, announce: bool = True) -> MqttLink:
    """The publisher's MQTT link: last will `offline`; on every connect discovery + states; on HA's birth
    message (`online` on `<discovery_prefix>/status`) the same again after a random 0-5 s, once per burst of
    births, on one thread (common.debounce), however many `online` messages arrive."""
    from common.debounce import Debouncer

    holder: list[MqttLink] = []
    births = Debouncer(
        lambda: publish(holder[0], pub, True), lambda: random.uniform(0, HA_RESEND_JITTER), name="ha-birth"
    )

    def on_message(topic: str, payload: bytes, retain: bool) -> None:
        # A retained `online` is replayed news from an earlier HA start, not a restart: connect already announced.
        if topic == pub.ha_status_topic and not retain and decode_status(payload):
            births.trigger()

    link = MqttLink(
        pub.cfg.mqtt,
        will=(pub.topics.status, OFFLINE),
        on_connect=(lambda: publish(holder[0], pub, with_discovery=True)) if announce else None,
        on_message=on_message,
        subscriptions=[t for t in [pub.ha_status_topic] if t],
    )
    holder.append(link)
    pub.emit = lambda: send_events(link, pub)
    return link


def next_wake(pub: Publisher, ok: bool) -> float:
    """Seconds until the next poll: the poll interval, sooner after a failure, and just after local midnight."""
    now = pub.clock()
    interval = pub.cfg.poll_interval if ok else min(pub.cfg.poll_interval, RETRY_AFTER_ERROR)
    midnight = next_local_midnight(now, pub.tz) + timedelta(seconds=1)
    return max(0.0, min(interval, (midnight - now).total_seconds()))


def wait_for_news(pub: Publisher, stop: threading.Event, seconds: float) -> None:
    """Sleep until the next poll is due, waking early when a source says it changed (a written file)."""
    deadline = time.monotonic() + seconds
    steps = [s.watch for s in pub.sources if s.watch]
    step = min(steps) if steps else None
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or _sleep(pub, stop, min(left, step) if step else left):
            return
        if step and any(s.changed() for s in pub.sources if s.watch):
            return


def _sleep(pub: Publisher, stop: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True when stopped, or hinted (with a receiver: the Bamboo webhook asks for a poll)."""
    if not pub.hinted:
        return stop.wait(seconds)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and not stop.is_set():
        if pub.hints.wait(min(left, HINT_STEP)):
            pub.hints.clear()
            return True
    return stop.is_set()


def run_forever(pub: Publisher, link: MqttLink, stop: threading.Event) -> None:
    """Poll until `stop` is set; the broker may come and go, on_connect re-asserts everything."""
    link.start()
    try:
        while not stop.is_set():
            ok = pub.poll()
            if stop.is_set():  # stopped in the middle of a poll: what it read is incomplete, keep the last state
                break
            pub.save()
            publish(link, pub)
            wait_for_news(pub, stop, next_wake(pub, ok))
    finally:
        link.stop(final=[(pub.topics.status, OFFLINE)])
        pub.save()
        log.info("stopped: published offline and saved the state")
