"""The MQTT connection both services use: paho-mqtt 2.x, last will, TLS, reconnect with backoff.

Callers hand over what to do on every (re)connect; this module never knows what the payloads mean.
Publishing while disconnected is skipped on purpose: paho would queue the message and send it *after*
the fresh values that `on_connect` re-asserts, letting an old retained value win.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from common.config import MqttSettings

log = logging.getLogger("fdc.mqtt")

MessageHandler = Callable[[str, bytes, bool], None]


class MqttError(Exception):
    """The broker could not be reached or refused us; the message says what to check."""


class MqttLink:
    """One paho client with a last will, re-running `on_connect` after every (re)connect."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        will: tuple[str, bytes] | None = None,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        on_message: MessageHandler | None = None,
        subscriptions: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self._on_connect_hook = on_connect
        self._on_disconnect_hook = on_disconnect
        self._on_message_hook = on_message
        self._subscriptions = list(subscriptions)
        self.connected = threading.Event()
        self.error: str | None = None
        self._refused = False
        self._stopping = False  # a disconnect we asked for is not "lost the broker"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            client.tls_set(
                ca_certs=settings.ca_file,
                certfile=settings.cert_file,
                keyfile=settings.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_socket_open = self._handle_socket_open
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_connect_fail = self._handle_connect_fail
        client.on_message = self._handle_message
        self.client = client

    # --- paho callbacks (run on paho's network thread) -----------------------------------------------------
    def _handle_socket_open(self, client: mqtt.Client, userdata: object, sock: object) -> None:
        """No Nagle delay: a small publish right after another would otherwise wait for the broker's ACK."""
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: Properties | None
    ) -> None:
        if rc.is_failure:
            self._refused = True
            self.error = self._refusal_sentence(rc)
            log.error("%s", self.error)
            return
        self._refused = False
        self.error = None
        log.info("connected to the MQTT broker at %s", self.settings.where)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self.connected.set()
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook()
            except Exception:  # a bug in a hook must not kill paho's thread
                log.exception("error while re-publishing after connect")

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: Properties | None
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("lost the MQTT broker at %s (%s); reconnecting", self.settings.where, rc)
            if self._on_disconnect_hook is not None:
                self._on_disconnect_hook()

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """Once per outage (the first, more precise sentence from start() is kept); retries stay quiet."""
        if not self._refused and self.error is None:
            self.error = (
                f"cannot reach the MQTT broker at {self.settings.where}: check mqtt.host and mqtt.port "
                "and that the broker is running"
            )
            log.warning("%s; retrying", self.error)

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message_hook is not None:
            try:
                self._on_message_hook(msg.topic, bytes(msg.payload), bool(msg.retain))
            except Exception:
                log.exception("error while handling a message on %s", msg.topic)

    def _refusal_sentence(self, rc: ReasonCode) -> str:
        who = f"user {self.settings.username!r}" if self.settings.username else "anonymous clients"
        name = str(rc)
        if "authori" in name.lower() or "password" in name.lower():
            return (
                f"the MQTT broker at {self.settings.where} refused {who} ({name}): check mqtt.username and "
                "mqtt.password (or FDC_MQTT_USERNAME / FDC_MQTT_PASSWORD)"
            )
        return f"the MQTT broker at {self.settings.where} refused the connection ({name})"

    # --- API --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect; a broker that is down now is retried in the background with backoff.

        The first attempt is made here, synchronously, because only then does paho say *why* it failed
        (a TLS certificate that does not verify will not fix itself, a refused port may).
        """
        where, host, port = self.settings.where, self.settings.host, self.settings.port
        try:
            self.client.connect(host, port, keepalive=self.settings.keepalive)
        except ssl.SSLError as e:
            self._refused = True
            self.error = (
                f"TLS with the MQTT broker at {where} failed ({e.reason or e}): check mqtt.tls.ca_file (the CA "
                "that signed the broker's certificate) and mqtt.host (a name in that certificate)"
            )
            log.error("%s", self.error)
            self.client.connect_async(host, port, keepalive=self.settings.keepalive)
        except OSError as e:
            self.error = (
                f"cannot reach the MQTT broker at {where} ({e.strerror or e}): check mqtt.host and mqtt.port "
                "and that the broker is running"
            )
            log.warning("%s; retrying", self.error)
            self.client.connect_async(host, port, keepalive=self.settings.keepalive)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> None:
        """Block until connected, or raise MqttError with the reason (refused at once, unreachable on timeout)."""
        deadline = time.monotonic() + timeout
        while not self.connected.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if self._refused and self.error:
                raise MqttError(self.error)
            if time.monotonic() >= deadline:
                break
        if self.connected.is_set():
            return
        raise MqttError(
            self.error
            or f"no answer from the MQTT broker at {self.settings.where} within {timeout:g} s: "
            "check mqtt.host and mqtt.port and that the broker is running"
        )

    def publish(self, topic: str, payload: bytes, *, retain: bool = True, qos: int = 1) -> mqtt.MQTTMessageInfo | None:
        """Publish if connected; while disconnected do nothing (on_connect re-asserts the current values)."""
        if not self.client.is_connected():
            log.debug("not connected: skipped publishing %s", topic)
            return None
        log.debug("publish %s (%d bytes%s)", topic, len(payload), ", retained" if retain else "")
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout: float = 10.0) -> None:
        """Publish retained messages and wait until the broker has acknowledged each one."""
        infos = [self.publish(t, p) for t, p in messages]
        for info in infos:
            if info is None:
                raise MqttError(f"lost the MQTT broker at {self.settings.where} while publishing")
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise MqttError(f"the MQTT broker at {self.settings.where} did not acknowledge within {timeout:g} s")

    def stop(self, final: Iterable[tuple[str, bytes]] = (), timeout: float = 5.0) -> None:
        """Publish `final` (e.g. `offline`) if connected, then disconnect cleanly: no last will is sent."""
        self._stopping = True
        try:
            if self.client.is_connected():
                try:
                    self.publish_all(final, timeout)
                except MqttError as e:
                    log.warning("%s", e)
            self.client.disconnect()
        finally:
            self.client.loop_stop()
            self.connected.clear()


def publish_and_leave(settings: MqttSettings, messages: list[tuple[str, bytes]], purpose: str) -> None:
    """Publish retained messages on a plain link of its own and leave: no will, and no connect hook that could
    overtake them. On the project's broker the client id is the user name, so a service running as the same
    user is knocked off for a moment (the README says to stop it first)."""
    link = MqttLink(replace(settings, client_id=f"{settings.client_id}-{purpose}"))
    link.start()
    try:
        link.wait_connected(timeout=10.0)
        link.publish_all(messages)
    finally:
        link.stop()
