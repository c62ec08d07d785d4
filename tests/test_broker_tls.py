"""TLS on the project's broker (the documented one-line switch) and an office broker bridged to it."""

from __future__ import annotations

import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker_project import (
    BRIDGE_ON,
    PREFIX,
    Client,
    ProjectBroker,
    Refused,
    display_topic,
    run,
    weeks_topic,
)

NODE = "berlin-3rd-floor"
# Clients that are connected at the same time log in as different users: a user is one connection (the broker
# uses the user name as the client id, so a second login with the same user name replaces the first).
LOBBY, KITCHEN = "hamburg-lobby", "hamburg-kitchen"


@pytest.fixture
def central() -> Iterator[ProjectBroker]:
    b = ProjectBroker(tls=True, nodes=(NODE,), name="central")
    b.start()
    yield b
    b.close()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for c in opened:
        c.close()


def test_tls_is_off_until_switched_on() -> None:
    b = ProjectBroker()
    try:
        b.start()
        b.client("publisher").close()  # plain MQTT works
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", b.tls_port), timeout=2).close()
    finally:
        b.close()


def test_a_client_trusting_the_project_ca_connects_over_tls(central: ProjectBroker, clients: list[Client]) -> None:
    reader = central.client(NODE, ca_file=central.ca_file).subscribe(f"{PREFIX}/#")
    clients.append(reader)
    publisher = central.client("publisher", ca_file=central.ca_file)
    clients.append(publisher)
    publisher.publish(weeks_topic(), "4", retain=True)
    assert reader.wait_for(weeks_topic()).payload == b"4"
    # Plain MQTT on the other listener still works, with the same users and ACL.
    plain = central.client(NODE).subscribe(f"{PREFIX}/#")
    clients.append(plain)
    assert plain.wait_for(weeks_topic()).payload == b"4"


def test_tls_still_needs_a_password(central: ProjectBroker) -> None:
    with pytest.raises(Refused):
        central.client(None, ca_file=central.ca_file)
    with pytest.raises(Refused):
        central.client("publisher", "wrong", ca_file=central.ca_file)


def test_a_client_trusting_another_ca_fails_verification(central: ProjectBroker, tmp_path: Path) -> None:
    other = tmp_path / "other-ca"
    run([str(central.dir / "make-certs.sh"), "localhost", "127.0.0.1"], tmp_path, env={"FDC_CERT_DIR": str(other)})
    with pytest.raises(ssl.SSLCertVerificationError) as failed:
        central.client("publisher", ca_file=str(other / "ca.crt"))
    # The broker sends its chain up to the project's CA, which the client does not trust.
    assert failed.value.verify_message in (
        "self-signed certificate in certificate chain",
        "unable to get local issuer certificate",
    )


def test_make_certs_keeps_the_ca_and_renews_only_the_server_certificate(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "mosquitto" / "make-certs.sh"
    env = {"FDC_CERT_DIR": str(tmp_path / "certs")}
    first = run([str(script), "mqtt.example.com", "192.0.2.10"], tmp_path, env)
    assert "CA: made" in first and "server certificate: made" in first
    ca = (tmp_path / "certs" / "ca.crt").read_bytes()
    server = (tmp_path / "certs" / "server.crt").read_bytes()
    again = run([str(script), "mqtt.example.com", "192.0.2.10"], tmp_path, env)
    assert "CA: kept" in again and "server certificate: kept" in again
    assert (tmp_path / "certs" / "server.crt").read_bytes() == server
    renamed = run([str(script), "mqtt.example.com", "localhost"], tmp_path, env)
    assert "CA: kept" in renamed and "server certificate: made" in renamed
    assert (tmp_path / "certs" / "ca.crt").read_bytes() == ca
    text = run(["openssl", "x509", "-in", "certs/server.crt", "-noout", "-ext", "subjectAltName"], tmp_path)
    assert "DNS:mqtt.example.com, DNS:localhost" in text
    run(["openssl", "verify", "-CAfile", "certs/ca.crt", "certs/server.crt"], tmp_path)
    assert oct((tmp_path / "certs" / "server.key").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "certs" / "ca.key").stat().st_mode & 0o777) == "0o600"


# --- Several offices: an office broker bridged to the central one ----------------------------------------------


@pytest.fixture
def office(central: ProjectBroker) -> Iterator[ProjectBroker]:
    """An office broker: the same project setup, its own display user, the bridge example switched on."""
    b = ProjectBroker(nodes=(NODE, LOBBY, KITCHEN), name="office")
    example = b.dir / "bridge" / "office-bridge.conf.example"
    conf = b.dir / "bridge" / "office-bridge.conf"
    shutil.copy(example, conf)  # the README's steps: copy the example, the central CA, edit, switch on
    shutil.copy(central.ca_file, b.dir / "bridge" / "central-ca.crt")
    b.rewrite(
        conf,
        [
            ("address central.example.com:8883", f"address 127.0.0.1:{central.tls_port}"),
            ("remote_password CHANGE-ME", f"remote_password {central.password('office-bridge')}"),
        ],
    )
    b.switch_on(BRIDGE_ON, "bridge")
    b.start()
    yield b
    b.close()


def bridge_connected(central: ProjectBroker) -> bool:
    """The office broker logged in at the central broker's TLS listener as office-bridge."""
    return "New bridge connected" in central.log.read_text() and "u'office-bridge'" in central.log.read_text()


def test_the_number_reaches_an_office_display_through_the_bridge(
    central: ProjectBroker, office: ProjectBroker, clients: list[Client]
) -> None:
    publisher = central.client("publisher")
    clients.append(publisher)
    publisher.publish(weeks_topic(), "5", retain=True)
    publisher.publish(f"{PREFIX}/status", "online", retain=True)
    display = office.client(NODE).subscribe(f"{PREFIX}/#")
    clients.append(display)
    assert display.wait_for(weeks_topic()).payload == b"5"
    assert display.wait_for(f"{PREFIX}/status").payload == b"online"
    assert bridge_connected(central)
    # The office broker keeps what came over the bridge as retained: a display that starts later gets it.
    late = office.client(LOBBY).subscribe(weeks_topic())
    clients.append(late)
    msg = late.wait_for(weeks_topic())
    assert (msg.payload, msg.retain) == (b"5", True)
    # A live change arrives, and is kept as retained too (mosquitto bridges keep the retain flag).
    publisher.publish(weeks_topic(), "6", retain=True)
    display.wait_for(weeks_topic(), lambda m: m.payload == b"6")
    later = office.client(KITCHEN).subscribe(weeks_topic())
    clients.append(later)
    msg = later.wait_for(weeks_topic())
    assert (msg.payload, msg.retain) == (b"6", True)


def test_a_reconnecting_bridge_brings_what_changed_while_it_was_away(
    central: ProjectBroker, office: ProjectBroker, clients: list[Client]
) -> None:
    publisher = central.client("publisher")
    clients.append(publisher)
    publisher.publish(weeks_topic(), "2", retain=True)
    first = office.client(NODE).subscribe(weeks_topic())
    first.wait_for(weeks_topic(), lambda m: m.payload == b"2")
    first.close()
    office.stop()  # the office broker (or its link) is down while the number changes
    publisher.publish(weeks_topic(), "3", retain=True)
    office.start()
    display = office.client(NODE).subscribe(weeks_topic())
    clients.append(display)
    # First its own saved retained value, then the current one once the bridge is back.
    display.wait_for(weeks_topic(), lambda m: m.payload == b"3")
    late = office.client(LOBBY).subscribe(weeks_topic())
    clients.append(late)
    msg = late.wait_for(weeks_topic())
    assert (msg.payload, msg.retain) == (b"3", True)


def test_office_displays_are_seen_centrally_and_get_commands(
    central: ProjectBroker, office: ProjectBroker, clients: list[Client]
) -> None:
    ha = central.client("homeassistant").subscribe(f"{PREFIX}/#")
    clients.append(ha)
    display = office.client(NODE).subscribe(f"{PREFIX}/#")
    clients.append(display)
    # Wait until the bridge has subscribed at the central broker: a retained value published there comes over.
    publisher = central.client("publisher")
    clients.append(publisher)
    publisher.publish(weeks_topic(), "1", retain=True)
    display.wait_for(weeks_topic())
    display.publish(display_topic(NODE, "status"), "online", retain=True)
    display.publish(weeks_topic(), "0", retain=True)  # dropped by the office broker's ACL
    display.publish(display_topic(NODE, "showing"), b'{"text": "1", "value": 1}', retain=True)
    assert ha.wait_for(display_topic(NODE, "showing")).payload == b'{"text": "1", "value": 1}'
    assert ha.payloads(display_topic(NODE, "status")) == [b"online"]
    assert ha.payloads(weeks_topic()) == [b"1"]
    # Home Assistant's command and its birth message go in to the office display.
    display.subscribe("homeassistant/status")
    ha.publish(display_topic(NODE, "brightness/set"), "9")
    ha.publish("homeassistant/status", "online")
    assert display.wait_for(display_topic(NODE, "brightness/set")).payload == b"9"
    assert display.wait_for("homeassistant/status").payload == b"online"
    # Nothing loops: the display's own status came back to it once only (its own subscription), not echoed
    # by the central broker. A sentinel after it shows that any echo would have arrived by now.
    display.publish(display_topic(NODE, "showing"), b'{"text": "1", "value": 1, "n": 2}', retain=True)
    display.wait_for(display_topic(NODE, "showing"), lambda m: b'"n": 2' in m.payload)
    ha.wait_for(display_topic(NODE, "showing"), lambda m: b'"n": 2' in m.payload)
    assert display.payloads(display_topic(NODE, "status")) == [b"online"]
    assert ha.payloads(display_topic(NODE, "status")) == [b"online"]
    assert ha.payloads(display_topic(NODE, "brightness/set")) == [b"9"]


def test_a_display_clears_its_retained_topics_at_both_brokers(
    central: ProjectBroker, office: ProjectBroker, clients: list[Client]
) -> None:
    display = office.client(NODE).subscribe(f"{PREFIX}/#")
    clients.append(display)
    publisher = central.client("publisher")
    clients.append(publisher)
    publisher.publish(weeks_topic(), "1", retain=True)
    display.wait_for(weeks_topic())  # the bridge is up
    display.publish(display_topic(NODE, "status"), "online", retain=True)
    ha = central.client("homeassistant").subscribe(display_topic(NODE, "status"))
    clients.append(ha)
    assert ha.wait_for(display_topic(NODE, "status")).payload == b"online"
    # The README's command for a display that is taken away: an empty retained message from its own user.
    run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(office.port), "-u", NODE, "-P", office.password(NODE),
         "-r", "-n", "-t", display_topic(NODE, "status")],
        office.base,
    )  # fmt: skip
    assert ha.wait_for(display_topic(NODE, "status"), lambda m: m.payload == b"").payload == b""
    # Neither broker keeps it now: newcomers get only the sentinel that follows.
    publisher.publish(weeks_topic(), "2", retain=True)
    display.close()  # the newcomers below log in as this display's user
    clients.remove(display)
    for broker in (central, office):
        late = broker.client(NODE).subscribe(f"{PREFIX}/#")
        clients.append(late)
        late.wait_for(weeks_topic(), lambda m: m.payload == b"2")
        assert late.received(display_topic(NODE, "status")) == []
