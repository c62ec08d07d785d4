"""The display node's behaviour: MQTT in, frames out, `showing` and `brightness` back, Home Assistant discovery.

paho's thread only decodes and stores the latest value; one loop thread renders, at most FRAME_RATE times a
second. So a flood of messages never queues renders (the latest value wins) and costs bounded CPU, and the LEDs
are only written when what is lit actually changes. A burst on `<prefix>/weeks` may have lost messages on the way
(a broker drops what a slow client cannot take): once it is over, the node subscribes again, which makes the
broker send the retained number, so the display always ends on the truth. Brightness commands are applied by the
same loop, which also publishes the new state and remembers it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from common.debounce import Debouncer
from common.logs import RateLimitedLog
from common.mqtt import MqttLink
from common.payloads import (
    OFFLINE,
    ONLINE,
    Cleared,
    PayloadError,
    decode_status,
    decode_weeks,
    encode_json,
    encode_showing,
)
from common.topics import Topics
from display_node.brightness import decode_brightness, encode_brightness, load_level, save_level
from display_node.bursts import Bursts
from display_node.config import DisplayConfig
from display_node.discovery import RESEND_JITTER, display_discovery
from display_node.drivers import Panel
from display_node.render import Layout, draw, layout

log = logging.getLogger("fdc.display")

BLINK = 0.5  # seconds the stale mark is on, then off
IDLE = 30.0  # longest sleep between checks (night schedule boundaries)
FRAME_RATE = 20  # renders a second at most (a Pi Zero has one slow core); 50 ms never shows to a person
SAVE_EVERY = 1.0  # seconds; a burst of brightness commands writes the state file at most this often


NO_BROKER = "no_broker"  # stale because the node has no broker connection (so this reason never reaches one)
PUBLISHER_OFFLINE = "publisher_offline"  # stale because `<prefix>/status` has been `offline` for over stale_after


@dataclass(frozen=True)
class Showing:
    """What is lit, as `<prefix>/displays/<node_id>/showing` reports it (the blink phase is not part of it)."""

    text: str
    value: int | None
    stale: bool
    stale_reason: str | None = None  # NO_BROKER or PUBLISHER_OFFLINE while stale, else None


def showing_payload(showing: Showing, at: str) -> bytes:
    """The `showing` JSON for what is lit."""
    return encode_showing(showing.text, showing.value, showing.stale, at, showing.stale_reason)


def discovery_messages(config: DisplayConfig, remove: bool = False) -> list[tuple[str, bytes]]:
    """This node's Home Assistant discovery configs (empty payloads with `remove`); none when HA is disabled."""
    if not config.homeassistant:
        return []
    found = display_discovery(Topics(config.topic_prefix), config.node_id, config.discovery_prefix, config.area)
    return [(d.topic, b"" if remove or d.config is None else encode_json(d.config)) for d in found]


def effective_level(brightness: int, night_active: bool, night_level: int | None) -> tuple[bool, int]:
    """(LEDs on, intensity): the night schedule turns the LEDs off or dims them, but never makes them brighter
    than the level Home Assistant (or display.brightness) set."""
    if not night_active:
        return True, brightness
    if night_level is None:
        return False, 0
    return True, min(brightness, night_level)


class Node:
    """One display node: subscribe, keep the latest number, render it, report it."""

    def __init__(
        self,
        config: DisplayConfig,
        panel: Panel,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        jitter: Callable[[], float] = lambda: random.uniform(0, RESEND_JITTER),
        watch: Mapping[str, Callable[[bytes], None]] | None = None,
        on_showing: Callable[[Showing], None] | None = None,
    ) -> None:
        """`watch`: more topics to subscribe to, each with its handler (called on paho's thread; `fdc web` reads
        `<prefix>/state`); `on_showing`: called from the loop whenever what is shown changes, connected or not."""
        self.config = config
        self.watch = dict(watch or {})
        self.on_showing = on_showing
        self.panel = panel
        self.topics = Topics(config.topic_prefix)
        self.clock = clock
        self.now = now
        self.jitter = jitter
        self.status_topic = self.topics.display_status(config.node_id)
        self.showing_topic = self.topics.display_showing(config.node_id)
        self.brightness_topic = self.topics.display_brightness(config.node_id)
        self.brightness_set_topic = self.topics.display_brightness_set(config.node_id)
        self.ha_status_topic = f"{config.discovery_prefix}/status" if config.homeassistant else None
        self.bad_payloads = RateLimitedLog(log)
        self.bad_commands = RateLimitedLog(log)
        self.commands = RateLimitedLog(
            log, level=logging.INFO, summary="%d more brightness commands were applied without a log line"
        )
        self.bursts = Bursts()
        self.resyncs = 0  # times the retained number was read again after a burst
        self.received = 0  # messages seen on `<prefix>/weeks`, good or bad
        self.showing: Showing | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._value: int | None = None
        self._connected = False
        self._offline_since: float | None = None
        remembered = load_level(config.state_file) if config.state_file is not None else None
        if remembered is not None:
            log.info("brightness %d, as last set at runtime (remembered in %s)", remembered, config.state_file)
        self._brightness = config.display.brightness if remembered is None else remembered
        self._brightness_changed = False  # a new level to publish and remember
        # Home Assistant's births: one re-announcement per burst, on one thread, after a random 0-5 s
        self.births = Debouncer(self._announce, self.jitter, name=f"ha-birth-{config.node_id}")
        self._unsaved: int | None = None  # a level to write to state_file, at most every SAVE_EVERY seconds
        self._saved_at: float | None = None
        self._republish = False
        self._frame: bytes | None = None
        self._applied: tuple[bool, int] | None = None  # (power, brightness) last sent to the panel
        self._layout: tuple[tuple[int | None, int, int], Layout] | None = None
        self.link = MqttLink(
            config.mqtt,
            will=(self.status_topic, OFFLINE),
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_message=self._on_message,
            subscriptions=[
                self.topics.weeks,
                self.topics.status,
                self.brightness_set_topic,
                *([self.ha_status_topic] if self.ha_status_topic else []),
                *self.watch,
            ],
        )

    @property
    def value(self) -> int | None:
        """The latest accepted number (None: no data), whether or not it has been drawn yet."""
        with self._lock:
            return self._value

    @property
    def brightness(self) -> int:
        """The level set at runtime (or configured); the night schedule may dim below it for a while."""
        with self._lock:
            return self._brightness

    # --- inputs (any thread) -------------------------------------------------------------------------------
    def set_brightness(self, level: int) -> None:
        """Brightness 0..15 at runtime: applied, published and remembered by the loop (the night schedule can
        still turn the LEDs off or dim them further while it is active)."""
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 15:
            raise ValueError(f"brightness {level!r} is outside 0..15")
        with self._lock:
            self._brightness = level
            self._brightness_changed = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _announce(self) -> None:
        """Discovery first (so Home Assistant has the entities), then `online`; the loop follows with `showing`
        and `brightness`."""
        for topic, payload in discovery_messages(self.config):
            self.link.publish(topic, payload)
        self.link.publish(self.status_topic, ONLINE)
        with self._lock:
            self._republish = True
        self._wake.set()

    def _on_connect(self) -> None:
        # The loop publishes only once `_connected` is set, i.e. after the discovery configs and `online`: paho
        # already counts as connected before this hook runs, and a `showing` must not overtake them.
        self._announce()
        with self._lock:
            self._connected = True
            self._republish = True
        self._wake.set()

    def _on_disconnect(self) -> None:
        with self._lock:
            self._connected = False
        self._wake.set()

    def _on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        if topic == self.topics.weeks:
            self.received += 1
            with self._lock:
                self.bursts.message(self.clock())
            try:
                value = decode_weeks(payload)
            except PayloadError as e:
                with self._lock:
                    keep = self._value
                self.bad_payloads.warning(
                    "ignored a bad payload on %s: %s; still showing %s", topic, e, "no data" if keep is None else keep
                )
                return
            with self._lock:
                self._value = None if isinstance(value, Cleared) else value
        elif topic in self.watch:
            self.watch[topic](payload)
            return
        elif topic == self.brightness_set_topic:
            try:
                level = decode_brightness(payload)
            except PayloadError as e:
                self.bad_commands.warning(
                    "ignored a bad brightness on %s: %s; keeping brightness %d", topic, e, self.brightness
                )
                return
            self.commands.info("brightness %d requested on %s", level, topic)
            self.set_brightness(level)
            return
        elif topic == self.ha_status_topic:
            # a retained `online` is old news replayed on subscribing: this connect has just announced anyway
            if decode_status(payload) and not retain:
                self.births.trigger()
            return
        elif topic == self.topics.status:
            online = decode_status(payload)
            with self._lock:
                if online is False:
                    if self._offline_since is None:
                        self._offline_since = self.clock()
                else:  # online, or cleared / unknown: nothing says the publisher is down
                    self._offline_since = None
        self._wake.set()

    # --- the render loop ---------------------------------------------------------------------------------
    def step(self) -> float:
        """Bring LEDs and `showing` in line with the current state; return seconds until the next check."""
        t = self.clock()
        with self._lock:
            value, connected, since = self._value, self._connected, self._offline_since
            brightness, republish, changed = self._brightness, self._republish, self._brightness_changed
            self._republish = self._brightness_changed = False
            resync_in = self.bursts.due(t)
            if connected and resync_in == 0:
                self.bursts.resynced(t)
                resync_in = self.bursts.due(t)
                self.resyncs += 1
                resync = True
            else:
                resync = False
        if resync:
            # Subscribing again to the same filter makes the broker send the retained message once more.
            log.debug("a burst on %s is over: reading the retained number again", self.topics.weeks)
            self.link.client.subscribe(self.topics.weeks, qos=1)
        stale_at = None if since is None else since + self.config.stale_after
        if not connected:
            reason: str | None = NO_BROKER
        elif stale_at is not None and t >= stale_at:
            reason = PUBLISHER_OFFLINE
        else:
            reason = None
        stale = reason is not None
        night = self.config.display.night
        night_active = night is not None and night.active(self.now().time())
        on, level = effective_level(brightness, night_active, night.brightness if night is not None else None)
        if self._applied != (on, level):
            if on:
                self.panel.set_brightness(level)
            self.panel.power(on)
            self._applied = (on, level)

        width, height = self.panel.size_for(value)
        if self._layout is None or self._layout[0] != (value, width, height):
            self._layout = ((value, width, height), layout(value, width, height, self.config.display.align))
        lay = self._layout[1]
        frame = draw(lay, width, height, stale_mark=stale and int(t / BLINK) % 2 == 0)
        data = frame.tobytes()
        if data != self._frame:
            self.panel.show(frame)
            self._frame = data

        showing = Showing(lay.text if on else "", value, stale, reason)
        if showing != self.showing or (republish and connected):
            before = self.showing
            if before is None or showing.text != before.text:
                log.info("showing %r%s", showing.text, " (stale)" if stale else "")
            if before is not None and reason != before.stale_reason:
                if not stale:
                    log.info("stale mark off")
                elif reason == NO_BROKER:
                    log.warning("stale mark on: no connection to the MQTT broker")
                else:
                    log.warning("stale mark on: the publisher has been offline for over %g s", self.config.stale_after)
            self.showing = showing
            if self.on_showing is not None:
                self.on_showing(showing)
            if connected:  # else the next connect publishes it
                at = self.now().isoformat(timespec="seconds")
                self.link.publish(self.showing_topic, showing_payload(showing, at))
        if connected and (changed or republish):
            self.link.publish(self.brightness_topic, encode_brightness(brightness))
        if changed:
            self._unsaved = brightness
        if self._unsaved is not None and (self._saved_at is None or t - self._saved_at >= SAVE_EVERY):
            self._remember(self._unsaved)
            self._unsaved, self._saved_at = None, t

        waits = [IDLE]
        if resync_in is not None:
            waits.append(resync_in)
        if self._unsaved is not None and self._saved_at is not None:
            waits.append(self._saved_at + SAVE_EVERY - t)
        if stale:
            waits.append(BLINK - t % BLINK)
        elif stale_at is not None:
            waits.append(stale_at - t)
        return max(0.01, min(waits))

    def _remember(self, level: int) -> None:
        path = self.config.state_file
        if path is None:
            return
        try:
            save_level(path, level)
        except OSError as e:
            log.error(
                "cannot remember brightness %d in %s (%s): it applies until the node restarts; check state_file "
                "and its folder's permissions",
                level,
                path,
                e.strerror or e,
            )

    def run(self, stop: threading.Event) -> None:
        """Connect (retrying in the background) and keep the display current until `stop` is set."""
        d = self.config.display
        log.info(
            "display node %r: %s driver, %dx%d, broker %s, topic %s",
            self.config.node_id,
            d.driver,
            *self.panel.size,
            self.config.mqtt.where,
            self.topics.weeks,
        )
        self.link.start()
        frame = 1.0 / FRAME_RATE
        try:
            while not stop.is_set():
                self._wake.clear()
                began = time.monotonic()
                timeout = self.step()
                self._wake.wait(timeout)
                # However many messages woke it, the loop steps at most FRAME_RATE times a second.
                rest = began + frame - time.monotonic()
                if rest > 0:
                    stop.wait(rest)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Clean disconnect (`offline`, no last will); the number stays lit if `display.persist`."""
        self.births.close()
        if self._unsaved is not None:
            self._remember(self._unsaved)
            self._unsaved = None
        persist = self.config.display.persist
        final = [(self.status_topic, OFFLINE)]
        if not persist and self.showing is not None:
            at = self.now().isoformat(timespec="seconds")
            final.insert(0, (self.showing_topic, showing_payload(replace(self.showing, text=""), at)))
        self.link.stop(final=final)
        self.panel.close(persist)
        log.info("display node %r stopped%s", self.config.node_id, "; the number stays lit" if persist else "")
