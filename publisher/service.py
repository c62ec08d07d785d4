"""The publisher's imperative shell: poll, compute, keep the retained topics true, sleep, repeat."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common.mqtt import MqttLink
from common.payloads import OFFLINE, ONLINE, decode_status, encode_json, encode_weeks
from common.topics import Topics
from publisher import state as state_store
from publisher.config import PublisherConfig
from publisher.discovery import publisher_discovery
from publisher.friday import Count, count, next_local_midnight, weekday_numbers
from publisher.report import state_payload
from publisher.source import Source, SourceError

log = logging.getLogger("fdc.publisher")
RETRY_AFTER_ERROR = 60.0  # seconds; a failed poll is retried sooner than poll_interval when that is longer
HA_RESEND_JITTER = 5.0  # seconds; spreads the re-announcements of many clients after Home Assistant restarts


def utc_now() -> datetime:
    return datetime.now(UTC)


class Publisher:
    """Holds the state and the current retained messages; every method is safe to call from paho's thread."""

    def __init__(self, cfg: PublisherConfig, source: Source, clock: Callable[[], datetime] = utc_now) -> None:
        self.cfg = cfg
        self.source = source
        self.clock = clock
        self.tz = ZoneInfo(cfg.timezone)
        self.days = weekday_numbers(cfg.days)
        self.topics = Topics(cfg.topic_prefix)
        self.state = state_store.load(cfg.state_file, cfg.fingerprint())
        self.error: str | None = None
        self.polled = False  # until the first poll, "no number" means "not asked yet", not "nothing found"
        self.count: Count | None = None
        self._lock = threading.Lock()
        self._messages: list[tuple[str, bytes]] = []
        self.refresh()

    def poll(self) -> bool:
        """Read Bamboo and recompute; on failure keep the last good state and remember the error."""
        now = self.clock()
        try:
            self.state = self.source.poll(
                self.state, tz=self.tz, days=self.days, tracking_start=self.cfg.tracking_start, now=now
            )
            self.error = None
            ok = True
        except SourceError as e:
            self.error = str(e)
            log.error("%s; keeping the last good number", e)
            ok = False
        self.polled = True
        self.refresh(now)
        return ok

    def refresh(self, now: datetime | None = None) -> None:
        """Recompute the number from the state and today's local date (it changes at local midnight)."""
        now = now or self.clock()
        best = self.state.best
        c = count(best, self.state.history_start, self.cfg.tracking_start, now.astimezone(self.tz).date())
        error = self.error
        if c is None and error is None:
            error = "no production deployment found yet, and no tracking_start configured"
        payload = state_payload(c, self.tz, now, self.source.name, error)
        messages = [(self.topics.status, ONLINE)]
        if c is not None:
            messages.append((self.topics.weeks, encode_weeks(c.weeks)))
        if c is not None or self.polled:
            messages.append((self.topics.state, encode_json(payload)))
        with self._lock:
            if c is not None and (self.count is None or self.count.weeks != c.weeks):
                log.info("%d week(s) since the last Friday deployment (counted from %s)", c.weeks, c.counted_from)
            self.count = c
            self._messages = messages

    def messages(self) -> list[tuple[str, bytes]]:
        """status, weeks (only when there is a number) and state, in that order."""
        with self._lock:
            return list(self._messages)

    @property
    def ha_status_topic(self) -> str | None:
        return f"{self.cfg.discovery_prefix}/status" if self.cfg.homeassistant else None

    def discovery(self, remove: bool = False) -> list[tuple[str, bytes]]:
        """Home Assistant discovery configs (empty payloads with `remove`); none when HA is disabled."""
        if not self.cfg.homeassistant:
            return []
        return [
            (d.topic, b"" if remove or d.config is None else encode_json(d.config))
            for d in publisher_discovery(self.topics, self.cfg.discovery_prefix)
        ]

    def save(self) -> None:
        try:
            state_store.save(self.cfg.state_file, self.state)
        except OSError as e:
            log.error(
                "cannot save the state file %s (%s): check state_file and its folder's permissions",
                self.cfg.state_file,
                e.strerror,
            )


def publish(link: MqttLink, pub: Publisher, with_discovery: bool = False) -> None:
    """The retained topics (after the discovery configs, so HA has the entities before their states)."""
    for topic, payload in (pub.discovery() if with_discovery else []) + pub.messages():
        link.publish(topic, payload)


def make_link(pub: Publisher, announce: bool = True) -> MqttLink:
    """The publisher's MQTT link: last will `offline`; on every connect discovery + states; on HA's birth
    message (`online` on `<discovery_prefix>/status`) the same again after a random 0-5 s."""
    holder: list[MqttLink] = []

    def on_message(topic: str, payload: bytes, retain: bool) -> None:
        # A retained `online` is replayed news from an earlier HA start, not a restart: connect already announced.
        if topic == pub.ha_status_topic and not retain and decode_status(payload):
            timer = threading.Timer(random.uniform(0, HA_RESEND_JITTER), publish, (holder[0], pub, True))
            timer.daemon = True
            timer.start()

    link = MqttLink(
        pub.cfg.mqtt,
        will=(pub.topics.status, OFFLINE),
        on_connect=(lambda: publish(holder[0], pub, with_discovery=True)) if announce else None,
        on_message=on_message,
        subscriptions=[t for t in [pub.ha_status_topic] if t],
    )
    holder.append(link)
    return link


def next_wake(pub: Publisher, ok: bool) -> float:
    """Seconds until the next poll: the poll interval, sooner after a failure, and just after local midnight."""
    now = pub.clock()
    interval = pub.cfg.poll_interval if ok else min(pub.cfg.poll_interval, RETRY_AFTER_ERROR)
    midnight = next_local_midnight(now, pub.tz) + timedelta(seconds=1)
    return max(0.0, min(interval, (midnight - now).total_seconds()))


def wait_for_news(pub: Publisher, stop: threading.Event, seconds: float) -> None:
    """Sleep until the next poll is due, waking early when the source says it changed (a written file)."""
    deadline = time.monotonic() + seconds
    step = pub.source.watch
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or stop.wait(min(left, step) if step else left) or (step and pub.source.changed()):
            return


def run_forever(pub: Publisher, link: MqttLink, stop: threading.Event) -> None:
    """Poll until `stop` is set; the broker may come and go, on_connect re-asserts everything."""
    link.start()
    try:
        while not stop.is_set():
            ok = pub.poll()
            if ok:
                pub.save()
            publish(link, pub)
            wait_for_news(pub, stop, next_wake(pub, ok))
    finally:
        link.stop(final=[(pub.topics.status, OFFLINE)])
        pub.save()
        log.info("stopped: published offline and saved the state")
