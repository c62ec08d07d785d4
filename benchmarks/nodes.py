"""Display nodes for the benches: in-process nodes whose panels timestamp every frame, subprocess nodes, a client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image

from common.config import MqttSettings
from display_node.config import DisplayConfig, DisplaySettings
from display_node.drivers import Panel, open_panel
from display_node.node import Node
from tests.broker import Broker, wait_until
from tests.run_fdc import fdc_command

PREFIX = "friday-deploy"
WEEKS = f"{PREFIX}/weeks"


def node_config(broker: Broker, node_id: str, cascaded: int = 2) -> DisplayConfig:
    return DisplayConfig(
        node_id=node_id,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=f"fdc-display-{node_id}"),
        display=DisplaySettings(driver="dummy", cascaded=cascaded),
    )


@dataclass
class Frames:
    """Every frame one panel showed, as (perf_counter time, frame bytes)."""

    shown: list[tuple[float, bytes]] = field(default_factory=list)
    sink: Callable[[float, bytes], None] | None = None  # also hand each frame on (to another process)
    count: int = 0

    def __call__(self, image: Image.Image) -> None:
        t, data = time.perf_counter(), image.tobytes()
        self.count += 1
        self.shown.append((t, data))
        if self.sink is not None:
            self.sink(t, data)

    def first(self, frame: bytes, after: float) -> float | None:
        for t, data in list(self.shown):
            if t >= after and data == frame:
                return t
        return None


class NodeSwarm:
    """N in-process display nodes on the dummy driver, each in its own thread with its own MQTT connection."""

    def __init__(self, broker: Broker, n: int, prefix: str = "bench") -> None:
        self.frames = [Frames() for _ in range(n)]
        self.nodes: list[Node] = []
        for i, rec in enumerate(self.frames):
            device = open_panel(DisplaySettings(driver="dummy", cascaded=2)).device
            panel = Panel(device, "dummy", after_show=rec)
            self.nodes.append(Node(node_config(broker, f"{prefix}-{i}"), panel))
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=n.run, args=(self.stop_event,), daemon=True) for n in self.nodes]

    def start(self) -> NodeSwarm:
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for n in self.nodes:
            n.wake()
        deadline = time.monotonic() + 60
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))


class Client:
    """A plain paho client: the bench's publisher, and the bare-subscriber baseline."""

    def __init__(
        self,
        broker: Broker,
        subscribe: str | None = None,
        on_message: Callable[[bytes, float], None] | None = None,
        client_id: str = "",
    ) -> None:
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.subscribed = threading.Event()

        def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            if subscribe is not None:
                c.subscribe(subscribe, qos=1)
            else:
                self.subscribed.set()

        def on_subscribe(c: mqtt.Client, u: Any, mid: Any, rcs: Any, p: Any) -> None:
            self.subscribed.set()

        def on_msg(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
            if on_message is not None:
                on_message(bytes(msg.payload), time.perf_counter())

        def on_socket_open(c: mqtt.Client, u: Any, sock: Any) -> None:
            if hasattr(sock, "setsockopt"):  # the bench's own clients send at once (paho leaves Nagle on)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        self.client.on_socket_open = on_socket_open
        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_msg
        self.client.connect(broker.host, broker.port, keepalive=60)
        self.client.loop_start()

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(self.subscribed.is_set, timeout, "an MQTT client to connect and subscribe")

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = True) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_display_config(path: Path, broker: Broker, node_id: str) -> Path:
    path.write_text(
        f"node_id: {node_id}\n"
        f"topic_prefix: {PREFIX}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
        "display: {driver: dummy, cascaded: 2}\n"
    )
    return path


def display_command(config: Path) -> list[str]:
    """`fdc display` as a subprocess (the installed console script is this module)."""
    return fdc_command("--log-level", "warning", "display", "-c", str(config))
