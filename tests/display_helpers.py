"""Shared pieces of the display node tests: publishing, a node in a thread, reading capture PNGs."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image

from common.config import MqttSettings
from display_node.config import DisplayConfig, DisplaySettings
from display_node.drivers import Panel, open_panel
from display_node.node import Node
from tests.broker import Broker

LED = 16  # pixels per LED in luma.emulator's led_matrix transform (the size of its led_on.png)


def publish(broker: Broker, topic: str, payloads: list[bytes] | bytes, retain: bool = True, qos: int = 1) -> None:
    """Publish through a separate client and wait until the broker has every message."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [
            client.publish(topic, p, qos=qos, retain=retain)
            for p in (payloads if isinstance(payloads, list) else [payloads])
        ]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def config(broker: Broker, node_id: str = "test-node", stale_after: float = 1800, **display: Any) -> DisplayConfig:
    return DisplayConfig(
        node_id=node_id,
        stale_after=stale_after,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=f"fdc-display-{node_id}"),
        display=dataclasses.replace(DisplaySettings(driver="dummy"), **display),
    )


@contextmanager
def running(node: Node) -> Iterator[Node]:
    """Run `node` in a thread for the duration of the block, then stop it cleanly."""
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        stop.set()
        node.wake()
        thread.join(10)
        assert not thread.is_alive(), "the node did not stop within 10 s"


def dummy_panel(cascaded: int = 2) -> Panel:
    return open_panel(DisplaySettings(driver="dummy", cascaded=cascaded))


def lit(image: Image.Image) -> list[str]:
    """A luma.emulator led_matrix picture (one 16x16 LED sprite per pixel) back into `#`/`.` rows."""
    rgb = image.convert("RGB")
    w, h = rgb.width // LED, rgb.height // LED
    rows = []
    for y in range(h):
        row = ""
        for x in range(w):
            r, g, _b = rgb.getpixel((x * LED + LED // 2, y * LED + LED // 2))  # type: ignore[misc]
            row += "#" if r > 128 and r > 2 * g else "."
        rows.append(row)
    return rows


def frames(folder: Path) -> list[Path]:
    return sorted(folder.glob("frame_*.png"))


def latest_frame(folder: Path) -> list[str] | None:
    """The newest complete capture PNG, decoded; None if there is none yet."""
    for path in reversed(frames(folder)):
        try:
            with Image.open(path) as im:
                im.load()
                return lit(im)
        except (OSError, SyntaxError):  # still being written
            continue
    return None


def showing(payload: bytes) -> dict[str, Any]:
    got: dict[str, Any] = json.loads(payload)
    return got
