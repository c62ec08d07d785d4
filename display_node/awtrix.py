"""`display.driver: awtrix`: the number as a custom app on an AWTRIX 3 clock (Ulanzi TC001) on the same broker.

The clock is driven by its documented MQTT API: the app's JSON on `<prefix>/custom/<app>` (not retained), the
brightness as `BRI` on `<prefix>/settings`, the night schedule's "off" on `<prefix>/power`. The app carries a
`lifetime` with `lifetimeMode: 1`, so when this node stops sending (it died, or lost the broker) the clock draws
its red "stale" frame around the app by itself; the node re-sends well within the lifetime. A publisher that is
offline for over `stale_after` greys the number out (the node is alive and can say so). The node's own topics
(`status`, `showing`, `brightness`, Home Assistant) are the Node's as for every driver.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time

from luma.core.device import dummy
from PIL import Image, ImageDraw

from common.mqtt import MqttLink
from common.payloads import encode_json
from display_node.config import Awtrix
from display_node.drivers import Panel
from display_node.node import Showing

log = logging.getLogger("fdc.display")
COLOR = "#FFFFFF"
STALE_COLOR = "#7F7F7F"  # the publisher is offline: the number greyed out, as the LED matrix lights its mark


def default_icon() -> str:
    """An 8x8 calendar page as a base64 JPEG, which the API takes in `icon`, so nothing must be uploaded first."""
    image = Image.new("RGB", (8, 8), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 7, 1), fill=(220, 30, 30))
    draw.rectangle((0, 2, 7, 7), fill=(235, 235, 235))
    draw.point([(2, 4), (4, 4), (6, 4), (2, 6), (4, 6)], fill=(60, 60, 60))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return base64.b64encode(out.getvalue()).decode("ascii")


ICON = default_icon()


def app_payload(text: str, stale: bool, settings: Awtrix) -> bytes:
    """The custom app's JSON (AWTRIX 3 API, "Custom Apps and Notifications")."""
    return encode_json(
        {
            "text": text,
            "icon": settings.icon or ICON,
            "color": STALE_COLOR if stale else COLOR,
            "lifetime": settings.lifetime,
            "lifetimeMode": 1,
        }
    )


def clock_brightness(level: int) -> int:
    """The node's 0..15 → the clock's BRI 0..255 (0 would be dark: 1 keeps the dimmest visible step)."""
    return max(1, min(255, level * 17))


def settings_payload(level: int) -> bytes:
    """`BRI` with `ABRI: false`: the clock's light sensor would otherwise undo the level at once."""
    return encode_json({"BRI": clock_brightness(level), "ABRI": False})


def refresh_every(lifetime: int) -> float:
    """Re-send the app four times per lifetime (at most every 30 s), so one lost message never marks it stale."""
    return max(2.0, min(30.0, lifetime / 4))


class AwtrixPanel(Panel):
    """A Panel whose "frame" is a custom app on the clock. `attach` gives it the node's MQTT link; a thread of its
    own sends what changed at once, re-sends the app before its lifetime runs out, and everything again after a
    reconnect (a clock that rebooted has forgotten it)."""

    def __init__(self, settings: Awtrix) -> None:
        super().__init__(dummy(width=32, height=8, mode="1"), "awtrix")
        self.settings = settings
        self.app_topic = f"{settings.prefix}/custom/{settings.app}"
        self.settings_topic = f"{settings.prefix}/settings"
        self.power_topic = f"{settings.prefix}/power"
        self.refresh = refresh_every(settings.lifetime)
        self.sent = 0  # messages published to the clock
        self._link: MqttLink | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._text: str | None = None
        self._stale = False
        self._level: int | None = None
        self._power = True
        self._thread: threading.Thread | None = None

    def attach(self, link: MqttLink) -> None:
        self._link = link
        self._thread = threading.Thread(target=self._run, name="awtrix", daemon=True)
        self._thread.start()

    def update(self, showing: Showing) -> None:
        """The Node's `on_showing`: the clock gets the number the LEDs would show (dark keeps the last one)."""
        with self._lock:
            if showing.text:
                self._text = showing.text
            self._stale = showing.stale
        self._wake.set()

    def size_for(self, value: int | None) -> tuple[int, int]:
        # the clock scrolls what does not fit, so the node never needs to shorten the number to `9+`
        return max(8, 8 * len("--" if value is None else str(value))), 8

    def show(self, image: Image.Image) -> None:
        self.frames += 1

    def set_brightness(self, level: int) -> None:
        with self._lock:
            self._level = level
        self._wake.set()

    def power(self, on: bool) -> None:
        with self._lock:
            self._power = on
        self._wake.set()

    def close(self, persist: bool) -> None:
        """Stop sending; the clock marks the app stale once its lifetime is over."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def messages(self) -> list[tuple[str, bytes]]:
        """What the clock should have now: settings and power before the app."""
        with self._lock:
            text, stale, level, on = self._text, self._stale, self._level, self._power
        out = []
        if level is not None:
            out.append((self.settings_topic, settings_payload(level)))
        out.append((self.power_topic, encode_json({"power": on})))
        if text is not None:
            out.append((self.app_topic, app_payload(text, stale, self.settings)))
        return out

    def _run(self) -> None:
        assert self._link is not None
        link = self._link
        sent: dict[str, bytes] = {}  # topic → payload the clock has had on this connection
        app_at = 0.0
        was_up = False
        while not self._stop.is_set():
            self._wake.wait(min(1.0, self.refresh))
            self._wake.clear()
            up = link.connected.is_set()
            if up and not was_up:
                sent.clear()  # a new connection: the clock may have rebooted meanwhile
            was_up = up
            if not up:
                continue
            now = time.monotonic()
            for topic, payload in self.messages():
                due = topic == self.app_topic and now - app_at >= self.refresh
                if sent.get(topic) != payload or due:
                    if link.publish(topic, payload, retain=False) is None:
                        break  # disconnected meanwhile: all again on the next connection
                    sent[topic] = payload
                    self.sent += 1
                    if topic == self.app_topic:
                        app_at = now
