"""A real mosquitto on a free loopback port with its own config, and a recording MQTT client for asserts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `cond` until it is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def mosquitto_path() -> str:
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if path is None:
        raise RuntimeError(
            "mosquitto is not installed: run `apt-get install mosquitto mosquitto-clients` (.ci/run does)"
        )
    return path


@dataclass
class Broker:
    """One mosquitto process; `stop()`/`start()` restart it on the same port (retained state is not kept)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_config: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"{self.extra_config}\n"
        )

    def start(self) -> None:
        if not self.conf.exists():
            self.write_config()
        self.proc = subprocess.Popen([mosquitto_path(), "-c", str(self.conf)], stderr=subprocess.PIPE)

        def accepting() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(accepting, 10, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class Recorder:
    """A separate MQTT client that records every message on `topics` (retained ones included)."""

    def __init__(
        self,
        broker: Broker,
        topics: list[str] | str = "#",
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        topic_list = [topics] if isinstance(topics, str) else topics
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if username is not None:
            self.client.username_pw_set(username, password)

        def on_connect(c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
            c.subscribe([(t, 1) for t in topic_list])

        def on_subscribe(c: mqtt.Client, u: object, mid: int, rcs: object, p: object) -> None:
            self._subscribed.set()

        def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(msg)

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        wait_until(self._subscribed.is_set, 10, "the recorder's subscription")

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in self.on(topic)]

    def last(self, topic: str) -> bytes | None:
        got = self.payloads(topic)
        return got[-1] if got else None

    def wait_for(self, topic: str, pred: Callable[[bytes], bool] = lambda p: True, timeout: float = 10.0) -> bytes:
        """Wait for a message on `topic` whose payload satisfies `pred`; return that payload."""
        found: list[bytes] = []

        def check() -> bool:
            for p in self.payloads(topic):
                if pred(p):
                    found.append(p)
                    return True
            return False

        wait_until(check, timeout, f"a matching message on {topic} (got {self.payloads(topic)[-5:]!r})")
        return found[0]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained_topics(broker: Broker, topic_filter: str) -> list[str]:
    """The topics a new subscriber to `topic_filter` receives as retained messages, proven complete by a
    sentinel published after subscribing (anything retained arrives before it)."""
    sentinel = f"{topic_filter.rstrip('#').rstrip('/')}/fdc-test-sentinel"
    rec = Recorder(broker, topic_filter)
    try:
        rec.client.publish(sentinel, b"x").wait_for_publish(5)
        rec.wait_for(sentinel)
        return [m.topic for m in rec.messages if m.topic != sentinel]
    finally:
        rec.close()
