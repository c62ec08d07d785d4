"""The project's broker config on a real mosquitto: every user's rights exactly as the README's users table says
(every role against every topic class, wildcards and `$SYS`), one user is one identity (no client-id takeover
across users), and oversized packets are refused."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.broker import wait_until
from tests.broker_project import PREFIX, ROOT, ProjectBroker, display_topic, weeks_topic

NODE, OTHER = "berlin-3rd-floor", "hamburg-lobby"
ROLES = ("publisher", "homeassistant", "operator", "office-bridge")
USERS = (*ROLES, NODE, OTHER)


@pytest.fixture(scope="module")
def broker() -> Iterator[ProjectBroker]:
    b = ProjectBroker(nodes=(NODE, OTHER), name="identity")
    b.start()
    yield b
    b.close()


# --- the README's table --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rights:
    reads: tuple[str, ...]
    writes: tuple[str, ...]


def readme_rights() -> dict[str, Rights]:
    """The rows of README "Users and what they may do": user → topic filters (`<node_id>` stays a placeholder)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Users and what they may do", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, Rights] = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        who, reads, writes = cells
        name = "display" if "display node" in who else (re.findall(r"`([^`]+)`", who) or ["anonymous"])[0]
        rows[name] = Rights(tuple(re.findall(r"`([^`]+)`", reads)), tuple(re.findall(r"`([^`]+)`", writes)))
    return rows


def filters_for(user: str, which: str) -> list[str]:
    rows = readme_rights()
    row = rows["display" if user in (NODE, OTHER) else user]
    found = row.reads if which == "read" else row.writes
    return [f.replace("<node_id>", user).replace("<component>", "+") for f in found]


def allowed(user: str, which: str, topic: str) -> bool:
    """As the table says, and as the sentence under it: no role has rights on the topics under its own name."""
    if user in ROLES and any(mqtt.topic_matches_sub(f, topic) for f in own_name_topics(user)):
        return False
    return any(mqtt.topic_matches_sub(f, topic) for f in filters_for(user, which))


def own_name_topics(role: str) -> list[str]:
    return [f"{PREFIX}/displays/{role}/#", f"homeassistant/+/{role}/#"]


def test_the_readme_says_that_roles_have_no_rights_under_their_own_name() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "No role has any right on the topics under its own name" in text
    assert "Nobody reads `$SYS/#`." in text


def test_the_readme_table_has_every_user() -> None:
    rows = readme_rights()
    assert set(rows) == {*ROLES, "display", "anonymous"}
    assert rows["anonymous"] == Rights((), ())
    assert rows["display"].writes == ("friday-deploy/displays/<node_id>/#", "homeassistant/<component>/<node_id>/#")


# --- probes: one MQTT 5 connection per user, which both reads and writes -------------------------------------------


class Probe:
    """An MQTT 5 client: the broker answers a refused QoS 1 publish with "Not authorized", so every write is
    seen; it subscribes to `#` and `$SYS/#` so that every message the broker lets it read arrives."""

    def __init__(self, broker: ProjectBroker, user: str, client_id: str | None = None) -> None:
        self.user = user
        self.received: list[str] = []
        self.acks: dict[int, ReasonCode] = {}
        self.disconnects = 0
        self._lock = threading.Lock()
        self._connack: ReasonCode | None = None
        self._subscribed = threading.Event()
        self.mqtt = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{user}",
            protocol=mqtt.MQTTv5,
        )
        self.mqtt.username_pw_set(user, broker.password(user))
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_publish = self._on_publish
        self.mqtt.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.mqtt.on_message = self._on_message
        self.mqtt.connect("127.0.0.1", broker.port, keepalive=30)
        self.mqtt.loop_start()
        wait_until(lambda: self._connack is not None, 10, f"a CONNACK for {user}")
        assert self._connack is not None and not self._connack.is_failure, self._connack

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None) -> None:
        self._connack = rc

    def _on_disconnect(self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None) -> None:
        with self._lock:
            self.disconnects += 1

    def _on_publish(self, c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: Properties | None) -> None:
        with self._lock:
            self.acks[mid] = rc

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(msg.topic)

    def subscribe(self, *filters: str) -> None:
        self._subscribed.clear()
        self.mqtt.subscribe([(f, 1) for f in filters])
        wait_until(self._subscribed.is_set, 10, f"the SUBACK for {self.user}")

    def write(self, topic: str, payload: bytes = b"probe") -> bool:
        """Publish with QoS 1 (not retained); True when the broker accepted it, False when it refused it."""
        info = self.mqtt.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.acks, 10, f"the PUBACK for {self.user} on {topic}")
        rc = self.acks[info.mid]
        assert not rc.is_failure or str(rc) == "Not authorized", f"{self.user} on {topic}: {rc}"
        return not rc.is_failure

    def got(self, topic: str) -> bool:
        with self._lock:
            return topic in self.received

    def topics(self) -> list[str]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def probe_topics() -> list[str]:
    """A concrete topic of every class: the counter's, each display's (also under each role's name, which the
    display patterns must not cover), Home Assistant's, and topics nobody owns."""
    names = (*USERS, PREFIX)  # a display named like a role or like the prefix would be a hole
    return [
        weeks_topic(),
        f"{PREFIX}/state",
        f"{PREFIX}/status",
        f"{PREFIX}/unknown",
        PREFIX,
        *[display_topic(n, leaf) for n in names for leaf in ("status", "showing", "brightness", "brightness/set")],
        "homeassistant/status",
        *[f"homeassistant/sensor/{n}/weeks/config" for n in names],
        "homeassistant/other",
        "other/topic",
        "$SYS/broker/fdc-probe",
    ]


def has_both_weeks(p: Probe) -> bool:
    return p.topics().count(weeks_topic()) >= 2


@dataclass(frozen=True)
class Probed:
    written: dict[tuple[str, str], bool]  # (user, topic) → the broker accepted the publish
    read: dict[str, list[str]]  # user → the topics it received


@pytest.fixture(scope="module")
def probed(broker: ProjectBroker) -> Probed:
    """Every user writes every probe topic once; then a sentinel that everyone may read, so that each probe has
    received all it ever will (one broker, each client's messages in order). The probes leave before the other
    tests log in with the same users."""
    probes = {u: Probe(broker, u) for u in USERS}
    try:
        for p in probes.values():
            p.subscribe("#", "$SYS/#", "+/+/+/+")
        written = {(user, topic): p.write(topic) for topic in probe_topics() for user, p in probes.items()}
        assert probes["operator"].write(weeks_topic(), b"sentinel")
        for p in probes.values():
            # the sentinel, after the `weeks` every user was asked to write (only the operator may)
            wait_until(partial(has_both_weeks, p), 10, f"{p.user} to read the sentinel")
        return Probed(written, {u: p.topics() for u, p in probes.items()})
    finally:
        for p in probes.values():
            p.close()


@pytest.mark.parametrize("user", USERS)
def test_each_user_writes_exactly_what_the_readme_table_says(probed: Probed, user: str) -> None:
    for topic in probe_topics():
        may = probed.written[(user, topic)]
        assert may == allowed(user, "write", topic), f"{user} {'may' if may else 'may not'} write {topic}"


@pytest.mark.parametrize("user", USERS)
def test_each_user_reads_exactly_what_the_readme_table_says(probed: Probed, user: str) -> None:
    for topic in probe_topics():
        if not any(probed.written[(u, topic)] for u in USERS):
            continue  # nobody could publish it, so nobody can read it either
        reads = topic in probed.read[user]
        assert reads == allowed(user, "read", topic), f"{user} {'reads' if reads else 'does not read'} {topic}"
    # `#` does not match `$SYS`, and `$SYS/#` delivers nothing either: the broker's retained $SYS topics (sent on
    # subscribing, before the sentinel) are for no user.
    assert [t for t in probed.read[user] if t.startswith("$")] == []


def test_nobody_writes_sys_or_topics_outside_the_project(probed: Probed) -> None:
    for topic in ("$SYS/broker/fdc-probe", "other/topic", f"{PREFIX}/unknown", PREFIX):
        assert [u for u in USERS if probed.written[(u, topic)]] == [], topic
    assert [u for u in USERS if probed.written[(u, "homeassistant/other")]] == ["publisher"]  # its homeassistant/#


# --- one user, one identity -----------------------------------------------------------------------------------


class Service:
    """A long-lived client with a last will, as the publisher and the display nodes are."""

    def __init__(self, broker: ProjectBroker, user: str, client_id: str, will_topic: str) -> None:
        self.disconnects = 0
        self.mqtt = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.mqtt.username_pw_set(user, broker.password(user))
        self.mqtt.will_set(will_topic, b"offline", qos=1, retain=True)
        self.connected = threading.Event()
        self.mqtt.on_connect = lambda c, u, f, rc, p: self.connected.set()
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.reconnect_delay_set(60, 60)  # a kicked service stays away: what happened is then plain to see
        self.mqtt.connect("127.0.0.1", broker.port, keepalive=30)
        self.mqtt.loop_start()
        wait_until(self.connected.is_set, 10, f"{user} to connect")

    def _on_disconnect(self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None) -> None:
        self.disconnects += 1

    def still_connected(self, topic: str) -> bool:
        """One QoS 1 round trip: answered on the same connection only if the broker kept it."""
        info = self.mqtt.publish(topic, b"online", qos=1, retain=True)
        wait_until(lambda: info.is_published() or self.disconnects > 0, 10, "a PUBACK or a disconnect")
        return info.is_published() and self.disconnects == 0

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


# The client ids the services really send (README: fdc-publisher-<hostname>, fdc-display-<node_id>) and the
# user names, which the broker uses as client ids.
VICTIMS = {
    "publisher": ("fdc-publisher-fdc-publisher", f"{PREFIX}/status"),
    NODE: (f"fdc-display-{NODE}", display_topic(NODE, "status")),
}


@pytest.mark.parametrize(
    ("attacker", "victim"), [(a, v) for v in sorted(VICTIMS) for a in USERS if a != v]
)  # the same user twice: test_the_same_user_twice_is_one_identity
def test_no_user_can_take_over_another_users_connection(broker: ProjectBroker, attacker: str, victim: str) -> None:
    client_id, status = VICTIMS[victim]
    watcher = broker.client("homeassistant" if "homeassistant" not in (attacker, victim) else OTHER)
    watcher.subscribe(status)
    service = Service(broker, victim, client_id, status)
    try:
        assert service.still_connected(status)
        for stolen in (client_id, victim):  # the id the victim sent, and the one the broker gives it
            attempt = Probe(broker, attacker, client_id=stolen)
            assert service.still_connected(status), f"{attacker} knocked {victim} off with client id {stolen!r}"
            attempt.close()  # one connection per user at a time, the attacker's too
        assert service.disconnects == 0
        assert b"offline" not in watcher.payloads(status)
    finally:
        service.close()
        watcher.close()


def test_the_same_user_twice_is_one_identity(broker: ProjectBroker) -> None:
    """What the README says: the newer connection replaces the older one, whose last will goes out."""
    watcher = broker.client("homeassistant").subscribe(f"{PREFIX}/status")
    first = Service(broker, "publisher", "fdc-publisher-a", f"{PREFIX}/status")
    try:
        assert first.still_connected(f"{PREFIX}/status")
        second = Probe(broker, "publisher", client_id="fdc-publisher-a-remove-discovery")
        wait_until(lambda: first.disconnects == 1, 10, "the first connection to be closed")
        assert watcher.wait_for(f"{PREFIX}/status", lambda m: m.payload == b"offline").payload == b"offline"
        assert second.write(f"{PREFIX}/status", b"online")
        second.close()
    finally:
        first.close()
        watcher.close()


# --- size limits ---------------------------------------------------------------------------------------------


def test_an_oversized_publish_is_refused_and_nothing_of_it_is_kept(broker: ProjectBroker) -> None:
    watcher = broker.client("homeassistant").subscribe(f"{PREFIX}/#")
    display = broker.client(NODE)
    publisher = broker.client("publisher")
    try:
        big = display_topic(NODE, "showing")
        publisher.publish(weeks_topic(), b"7", retain=True)
        display.mqtt.publish(big, b"x" * (20 * 1024 * 1024), qos=1, retain=True)
        wait_until(lambda: not display.mqtt.is_connected(), 15, "the broker to disconnect the sender")
        display.close()  # paho would send the same message again on reconnecting
        # 15 KiB (over ten times our biggest message) still passes; 17 KiB does not.
        publisher.publish(f"{PREFIX}/state", b"{" + b" " * 15 * 1024 + b"}", retain=True)
        publisher.mqtt.publish(weeks_topic(), b"8" * 17 * 1024, qos=1, retain=True)
        wait_until(lambda: not publisher.mqtt.is_connected(), 15, "the broker to disconnect the publisher")
        publisher.close()
        late = broker.client(OTHER).subscribe(f"{PREFIX}/#")
        try:
            assert late.wait_for(weeks_topic()).payload == b"7"
            assert len(late.wait_for(f"{PREFIX}/state").payload) == 15 * 1024 + 2
            assert late.received(big) == []
        finally:
            late.close()
        assert watcher.payloads(big) == [] and watcher.payloads(weeks_topic()) == [b"7"]
    finally:
        for c in (display, publisher, watcher):
            c.close()


def test_a_huge_connect_from_a_socket_that_has_not_logged_in_is_cut_off(broker: ProjectBroker) -> None:
    limit = 64 * 1024 * 1024
    sent, cut = 0, False
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        s.sendall(b"\x10\xff\xff\xff\x7f")  # CONNECT, remaining length 268,435,455 bytes (the MQTT maximum)
        try:
            while sent < limit:
                s.sendall(b"\0" * 65536)
                sent += 65536
            cut = s.recv(1) == b""
        except TimeoutError:
            cut = False  # the broker is still waiting for the rest
        except OSError:  # reset by the broker
            cut = True
    assert cut and sent < limit, f"the broker took {sent} bytes of a 256 MB CONNECT"
    wait_until(lambda: "oversize packet" in broker.log.read_text(), 10, "the broker's log line")
