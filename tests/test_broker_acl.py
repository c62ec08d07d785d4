"""The project's mosquitto.conf + acl on a real broker: who may connect, who may change what, persistence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.broker_project import PREFIX, Client, ProjectBroker, Refused, display_topic, run, weeks_topic

NODE = "berlin-3rd-floor"
OTHER = "hamburg-lobby"


@pytest.fixture
def broker() -> Iterator[ProjectBroker]:
    b = ProjectBroker(nodes=(NODE, OTHER))
    b.start()
    yield b
    b.close()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for c in opened:
        c.close()


def login(broker: ProjectBroker, clients: list[Client], user: str) -> Client:
    c = broker.client(user)
    clients.append(c)
    return c


def test_anonymous_clients_are_refused(broker: ProjectBroker) -> None:
    with pytest.raises(Refused) as refused:
        broker.client(None)
    assert str(refused.value.reason) == "Not authorized"  # MQTT 3.1.1 CONNACK 5, as paho 2 names it


def test_a_wrong_password_is_refused(broker: ProjectBroker) -> None:
    with pytest.raises(Refused) as refused:
        broker.client("publisher", "not-" + broker.password("publisher"))
    assert str(refused.value.reason) in ("Not authorized", "Bad user name or password")
    with pytest.raises(Refused):
        broker.client("nobody-we-know", "whatever")


def test_the_publisher_publishes_weeks_and_a_display_receives_it(broker: ProjectBroker, clients: list[Client]) -> None:
    display = login(broker, clients, NODE).subscribe(f"{PREFIX}/#")
    publisher = login(broker, clients, "publisher")
    publisher.publish(weeks_topic(), "3", retain=True)
    publisher.publish(f"{PREFIX}/state", b'{"weeks": 3}', retain=True)
    publisher.publish(f"{PREFIX}/status", "online", retain=True)
    assert display.wait_for(weeks_topic()).payload == b"3"
    assert display.wait_for(f"{PREFIX}/status").payload == b"online"
    assert display.payloads(f"{PREFIX}/state") == [b'{"weeks": 3}']
    # A display that starts later gets the retained number at once.
    late = login(broker, clients, OTHER).subscribe(f"{PREFIX}/#")
    msg = late.wait_for(weeks_topic())
    assert (msg.payload, msg.retain) == (b"3", True)


def test_the_publisher_writes_discovery_and_reads_home_assistant_status(
    broker: ProjectBroker, clients: list[Client]
) -> None:
    ha = login(broker, clients, "homeassistant").subscribe("homeassistant/#")
    publisher = login(broker, clients, "publisher").subscribe("homeassistant/status")
    config = "homeassistant/sensor/friday-deploy/weeks/config"
    publisher.publish(config, b'{"name": "Weeks"}', retain=True)
    assert ha.wait_for(config).payload == b'{"name": "Weeks"}'
    ha.publish("homeassistant/status", "online")
    assert publisher.wait_for("homeassistant/status").payload == b"online"


def test_a_display_cannot_change_the_number_or_pose_as_another_display(
    broker: ProjectBroker, clients: list[Client]
) -> None:
    watcher = login(broker, clients, "homeassistant").subscribe(f"{PREFIX}/#", "homeassistant/#")
    display = login(broker, clients, NODE)
    display.publish(weeks_topic(), "0", retain=True)
    display.publish(f"{PREFIX}/state", b'{"weeks": 0}', retain=True)
    display.publish(display_topic(OTHER, "status"), "offline", retain=True)
    display.publish(display_topic(OTHER, "showing"), b'{"text": "0"}', retain=True)
    display.publish("homeassistant/sensor/publisher/weeks/config", b"{}", retain=True)
    # Its own topics get through; they were sent after the others on the same connection (QoS 1, in order).
    display.publish(display_topic(NODE, "status"), "online", retain=True)
    display.publish(display_topic(NODE, "showing"), b'{"text": "12", "value": 12}', retain=True)
    assert watcher.wait_for(display_topic(NODE, "showing")).payload == b'{"text": "12", "value": 12}'
    assert watcher.payloads(display_topic(NODE, "status")) == [b"online"]
    for dropped in (weeks_topic(), f"{PREFIX}/state", display_topic(OTHER, "status"), display_topic(OTHER, "showing")):
        assert watcher.payloads(dropped) == [], f"{dropped} should have been dropped"
    assert watcher.payloads("homeassistant/sensor/publisher/weeks/config") == []
    # Nor was anything of it kept as retained: a newcomer sees only the display's own topics.
    late = login(broker, clients, OTHER).subscribe(f"{PREFIX}/#")
    late.wait_for(display_topic(NODE, "showing"))
    late.wait_for(display_topic(NODE, "status"))
    assert sorted(m.topic for m in late.messages) == [display_topic(NODE, "showing"), display_topic(NODE, "status")]


def test_a_display_may_announce_its_own_home_assistant_entities(broker: ProjectBroker, clients: list[Client]) -> None:
    ha = login(broker, clients, "homeassistant").subscribe("homeassistant/#")
    display = login(broker, clients, NODE)
    own = f"homeassistant/light/{NODE}/matrix/config"
    display.publish(f"homeassistant/light/{OTHER}/matrix/config", b"{}", retain=True)
    display.publish(own, b'{"name": "LEDs"}', retain=True)
    assert ha.wait_for(own).payload == b'{"name": "LEDs"}'
    assert ha.payloads(f"homeassistant/light/{OTHER}/matrix/config") == []


def test_the_operator_can_publish_weeks_but_nothing_else(broker: ProjectBroker, clients: list[Client]) -> None:
    display = login(broker, clients, NODE).subscribe(f"{PREFIX}/#")
    operator = login(broker, clients, "operator")
    operator.publish(f"{PREFIX}/state", b'{"weeks": 99}', retain=True)
    operator.publish(weeks_topic(), "42", retain=True)
    assert display.wait_for(weeks_topic()).payload == b"42"
    assert display.payloads(f"{PREFIX}/state") == []


def test_the_operator_example_from_the_acl_works_with_mosquitto_pub(
    broker: ProjectBroker, clients: list[Client]
) -> None:
    display = login(broker, clients, NODE).subscribe(f"{PREFIX}/#")
    run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", "operator", "-P",
         broker.password("operator"), "-t", weeks_topic(), "-r", "-q", "1", "-m", "3"],
        broker.base,
    )  # fmt: skip
    assert display.wait_for(weeks_topic()).payload == b"3"


def test_home_assistant_publishes_its_status_and_display_commands(broker: ProjectBroker, clients: list[Client]) -> None:
    publisher = login(broker, clients, "publisher").subscribe("homeassistant/status")
    display = login(broker, clients, NODE).subscribe(f"{PREFIX}/#")
    ha = login(broker, clients, "homeassistant")
    ha.publish(weeks_topic(), "1", retain=True)  # HA only reads the number
    ha.publish("homeassistant/status", "online", retain=True)
    ha.publish(display_topic(NODE, "brightness/set"), "3")
    assert publisher.wait_for("homeassistant/status").payload == b"online"
    assert display.wait_for(display_topic(NODE, "brightness/set")).payload == b"3"
    assert display.payloads(weeks_topic()) == []


def test_the_retained_number_survives_a_broker_restart(broker: ProjectBroker, clients: list[Client]) -> None:
    publisher = broker.client("publisher")
    publisher.publish(weeks_topic(), "7", retain=True)
    publisher.publish(f"{PREFIX}/status", "online", retain=True)
    publisher.close()
    display = broker.client(NODE)
    display.publish(display_topic(NODE, "status"), "online", retain=True)
    display.close()
    broker.stop()
    assert (broker.data / "mosquitto.db").is_file()
    broker.start()
    reader = login(broker, clients, OTHER).subscribe(f"{PREFIX}/#")
    msg = reader.wait_for(weeks_topic())
    assert (msg.payload, msg.retain) == (b"7", True)
    assert reader.wait_for(display_topic(NODE, "status")).payload == b"online"
    # The publisher's last will, published by the broker when its connection vanished, is kept as well.
    assert reader.wait_for(f"{PREFIX}/status").payload == b"online"


def test_the_compose_healthcheck_command_tells_a_running_broker(broker: ProjectBroker) -> None:
    from tests.test_broker_deploy import compose_healthcheck

    command = compose_healthcheck().replace("-p 1883", f"-p {broker.port}")
    run(command, broker.base)
    broker.stop()
    with pytest.raises(AssertionError):
        run(command, broker.base)
