"""amqtt 0.12 made to behave like the project's mosquitto for everything the demo shows (imports amqtt: only
`demo.embedded_broker` loads this, after checking amqtt is installed).

What it changes, each a difference a user of the demo would notice:
- a client's id is its user name, whatever id it sent (`use_username_as_clientid true`): the same user
  connecting twice replaces its older connection, and nobody can take over another user's session;
- anonymous clients and wrong passwords are refused ("not authorised"), as `allow_anonymous false` with a
  `password_file` does (`PasswordAuth`);
- publishes and deliveries follow mosquitto's ACL file (`AclCheck`): a denied publish is acknowledged and
  dropped, a denied topic is not delivered, subscriptions themselves are granted, as mosquitto 2 does;
- retained messages are sent once, on SUBSCRIBE, to that subscription, and only where the user may read them:
  amqtt itself also sends, on every CONNECT, every retained message matching any filter any client ever
  subscribed to (duplicates, and topics the client never asked for), without checking read access;
- QoS 1 publishes it acknowledged are passed on even when the client disconnects right after sending;
- QoS 1 messages queued for an offline persistent session (`mosquitto_sub -c -i ID`) are delivered when it
  comes back, with the retain flag off as mosquitto sends them.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.broker import AMQTT_MAGIC_VALUE_RET_SUBSCRIBED, Broker, BrokerEvents
from amqtt.contexts import Action
from amqtt.errors import MQTTError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.utils import gen_client_id

from demo.acl import Acl

log = logging.getLogger("fdc.demo.broker")


def read_users(path: Path) -> dict[str, str]:
    """`user:password` lines (the demo's users all have the demo's published password)."""
    users: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, password = line.partition(":")
            users[name] = password
    return users


class PasswordAuth(BaseAuthPlugin):  # type: ignore[misc]
    """A known user name with its password, or the connection is refused."""

    @dataclass
    class Config:
        users_file: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.users = read_users(Path(self.config.users_file))

    async def authenticate(self, *, session: Any) -> bool:
        expected = self.users.get(session.username or "")
        given = (session.password or "").encode()
        ok = expected is not None and hmac.compare_digest(given, expected.encode())
        if not ok:
            who = f"user {session.username!r}" if session.username else "no user name (anonymous)"
            log.warning("refused client %s, %s: not authorised", session.client_id, who)
        return ok


class AclCheck(BaseTopicPlugin):  # type: ignore[misc]
    """mosquitto's acl_file: what a client may publish (write) and what is delivered to it (read)."""

    @dataclass
    class Config:
        acl_file: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.acl = Acl.load(Path(self.config.acl_file))

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None, action: Any = None) -> bool:
        if action == Action.SUBSCRIBE:
            return True
        if session is None or topic is None:
            return False
        wanted = "write" if action == Action.PUBLISH else "read"
        allowed = self.acl.allowed(session.username, session.client_id or "", topic, wanted)
        if not allowed and action == Action.PUBLISH:
            log.info("denied PUBLISH from %s (user %r) to %s", session.client_id, session.username, topic)
        return allowed


class MosquittoLikeBroker(Broker):  # type: ignore[misc]
    """amqtt's broker with mosquitto's client ids and retained-message behaviour (see the module's docstring)."""

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[Any, Any]:
        """amqtt's own, with the user name as client id before the session is looked up."""
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except MQTTError:
            await writer.close()
            raise
        if session.username:
            session.client_id = session.username
        old = self._sessions.get(session.client_id) if session.client_id else None
        if old is not None and old[1] is not None and old[0].transitions.is_connected():
            log.info("client %s already connected, closing old connection", session.client_id)
            await old[1].handle_connection_closed()
            await old[1].stop()
        if session.clean_session:
            if session.client_id:
                await self._delete_session(session.client_id)
            else:
                session.client_id = gen_client_id()
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            for name in (
                "will_flag",
                "will_message",
                "will_topic",
                "will_qos",
                "will_retain",
                "keep_alive",
                "username",
                "password",
            ):
                setattr(existing, name, getattr(session, name))
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        return handler, session

    async def _client_message_loop(self, client_session: Any, handler: Any) -> None:
        """Publishes already acknowledged (PUBACK sent) but not yet passed on are passed on, in order, when the
        client has gone: amqtt drops them when it disconnects right after sending (`mosquitto_pub -l`)."""
        await super()._client_message_loop(client_session, handler)
        queue = client_session.delivered_message_queue
        while not queue.empty():
            received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            received.set_result(queue.get_nowait())
            await self._handle_message_delivery(client_session, handler, received)

    acl: Acl | None = None  # set by make_broker: what each subscriber may read

    def _subscribe_now(self, subscription: tuple[str, int], session: Any) -> int:
        """amqtt's add_subscription without its await, so nothing can be delivered on the new filter before the
        retained messages are queued (mosquitto's order: SUBACK, the retained messages, then anything new)."""
        topic_filter, qos = subscription
        levels = topic_filter.split("/")
        if any("#" in lv and (lv != "#" or i != len(levels) - 1) for i, lv in enumerate(levels)):
            return int(AMQTT_MAGIC_VALUE_RET_SUBSCRIBED)
        if any("+" in lv and lv != "+" for lv in levels):
            return int(AMQTT_MAGIC_VALUE_RET_SUBSCRIBED)
        max_qos = self.config.get("max-qos", qos)
        qos = min(qos, max_qos) if isinstance(max_qos, int) else qos
        subscribers = self._subscriptions.setdefault(topic_filter, [])
        if all(s.client_id != session.client_id for s, _ in subscribers):
            subscribers.append((session, qos))
        return int(qos)

    def _may_read(self, session: Any, topic: str) -> bool:
        return self.acl is None or self.acl.allowed(session.username, session.client_id or "", topic, "read")

    async def _handle_subscription(self, client_session: Any, handler: Any, subscribe_waiter: Any) -> None:
        """Retained messages once, on SUBSCRIBE, for that filter, readable ones only, before anything newer:
        all packets are queued on the connection's write lock (first come, first written) without a pause."""
        subscriptions = subscribe_waiter.result()
        codes = [self._subscribe_now(s, client_session) for s in subscriptions.topics]
        sends = [asyncio.ensure_future(handler.mqtt_acknowledge_subscription(subscriptions.packet_id, codes))]
        for code, (topic_filter, _qos) in zip(codes, subscriptions.topics, strict=True):
            if code == AMQTT_MAGIC_VALUE_RET_SUBSCRIBED:
                continue
            for topic, retained in list(self._retained_messages.items()):
                if self._matches(topic, topic_filter) and self._may_read(client_session, topic):
                    send = handler.mqtt_publish(retained.topic, retained.data, min(code, retained.qos or code), True)
                    sends.append(asyncio.ensure_future(send))
        await asyncio.wait(sends)
        for code, (topic_filter, qos) in zip(codes, subscriptions.topics, strict=True):
            if code != AMQTT_MAGIC_VALUE_RET_SUBSCRIBED:
                await self.plugins_manager.fire_event(
                    BrokerEvents.CLIENT_SUBSCRIBED, client_id=client_session.client_id, topic=topic_filter, qos=qos
                )

    async def _publish_retained_messages_for_subscription(self, subscription: Any, session: Any) -> None:
        """amqtt calls this on every CONNECT for every filter of every client: retained messages are sent on
        SUBSCRIBE only (`_handle_subscription`), as MQTT 3.1.1 and mosquitto do."""

    async def _publish_session_retained_messages(self, session: Any) -> None:
        handler = self._get_handler(session)
        tasks = []
        while handler is not None and not session.retained_messages.empty():
            queued = await session.retained_messages.get()
            tasks.append(asyncio.ensure_future(handler.mqtt_publish(queued.topic, queued.data, queued.qos, False)))
        if tasks:
            await asyncio.wait(tasks)


def make_broker(port: int, users_file: Path, acl_file: Path) -> MosquittoLikeBroker:
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            f"{__name__}.PasswordAuth": {"users_file": str(users_file)},
            f"{__name__}.AclCheck": {"acl_file": str(acl_file)},
        },
    }
    broker = MosquittoLikeBroker(config)
    broker.acl = Acl.load(acl_file)
    return broker
