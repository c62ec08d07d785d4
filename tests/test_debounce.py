"""Home Assistant's births, debounced: one action per burst on one thread, in the nodes and in the publisher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.debounce import Debouncer, due_at
from display_node.node import Node
from publisher.loop import make_link
from publisher.service import Publisher
from tests.broker import Broker, Recorder, wait_until
from tests.display_helpers import config, dummy_panel, publish, running

BIRTHS = 5000


def test_due_at_waits_for_the_spread_and_the_quiet_but_never_longer_than_longest() -> None:
    assert due_at(first=10, last=10, delay=3, quiet=1, longest=30) == 13  # one birth: the random spread
    assert due_at(first=10, last=12.5, delay=3, quiet=1, longest=30) == 13.5  # and a second after the last
    assert due_at(first=10, last=100, delay=3, quiet=1, longest=30) == 40  # an endless burst: after 30 s
    assert due_at(first=10, last=10, delay=0, quiet=0, longest=30) == 10


def test_a_burst_from_many_threads_runs_the_action_once_on_one_thread() -> None:
    ran: list[str] = []
    d = Debouncer(lambda: ran.append(threading.current_thread().name), lambda: 0.2, quiet=0.2, name="births")
    before = threading.active_count()
    try:

        def send() -> None:
            for _ in range(500):
                d.trigger()

        senders = [threading.Thread(target=send) for _ in range(8)]
        for s in senders:
            s.start()
        for s in senders:
            s.join(10)
        assert threading.active_count() == before + 1  # the worker, nothing per trigger
        wait_until(lambda: d.runs == 1, 10, "the action")
        assert (d.triggers, ran) == (4000, ["births"])
        d.trigger()  # a later birth is a new burst
        wait_until(lambda: d.runs == 2, 10, "the second action")
        assert threading.active_count() == before + 1
    finally:
        d.close()
    assert threading.active_count() == before


def test_a_failing_action_is_logged_and_the_next_burst_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    d = Debouncer(action, lambda: 0.0, quiet=0.0, name="births")
    try:
        d.trigger()
        wait_until(lambda: d.runs == 1, 10, "the first run")
        d.trigger()
        wait_until(lambda: len(calls) == 2, 10, "the second run")
        assert "error in births" in caplog.text
    finally:
        d.close()


@pytest.fixture
def roomy_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that delivers every birth (mosquitto drops QoS 1 beyond 1000 queued by default)."""
    b = Broker(tmp_path / "roomy", extra_config="max_queued_messages 0")
    b.start()
    yield b
    b.stop()


def births(broker: Broker, n: int = BIRTHS) -> None:
    publish(broker, "homeassistant/status", [b"online"] * n, retain=False)


def test_a_node_answers_thousands_of_births_with_one_re_announcement(roomy_broker: Broker) -> None:
    broker = roomy_broker
    topic = "homeassistant/number/test-node/brightness/config"
    rec = Recorder(broker, [topic, "friday-deploy/displays/test-node/status"])
    try:
        with running(Node(config(broker), dummy_panel(), jitter=lambda: 0.3)) as node:
            rec.wait_for(topic)
            wait_until(lambda: node.showing is not None, 10, "the first frame")
            threads = threading.active_count()
            births(broker)
            wait_until(lambda: node.births.triggers == BIRTHS, 20, "every birth to reach the node")
            assert threading.active_count() <= threads + 1  # its debouncer's one worker
            wait_until(lambda: node.births.runs == 1, 20, "the re-announcement")
            # it announced once: the config again, then `online`; nothing is pending that could announce again
            rec.wait_for("friday-deploy/displays/test-node/status", lambda p: len(rec.on(topic)) == 2)
            wait_until(lambda: len(rec.payloads("friday-deploy/displays/test-node/status")) == 2, 10, "online")
            assert node.births.runs == 1 and node.births.triggers == BIRTHS
    finally:
        rec.close()


def test_the_publisher_answers_thousands_of_births_with_one_re_announcement(broker: Broker, tmp_path: Path) -> None:
    """make_link's birth handling on a real broker, with a real publisher reading a deployments file."""
    from publisher.config import load

    (tmp_path / "deployments.yaml").write_text(
        "- {project: P, environment: Production, started: 2026-11-13 10:00, finished: 2026-11-13 10:05}\n"
    )
    cfg_path = tmp_path / "publisher.yaml"
    cfg_path.write_text(
        f"timezone: Europe/Berlin\nstate_file: {tmp_path / 'state.json'}\nfile: {{path: deployments.yaml}}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}, client_id: fdc-publisher-births}}\n"
    )
    cfg = load(cfg_path)
    pub = Publisher(cfg, cfg.make_sources())
    assert pub.poll()
    topics = pub.topics
    configs = pub.discovery()
    rec = Recorder(broker, [configs[0][0], topics.weeks])
    link = make_link(pub)
    try:
        link.start()
        link.wait_connected(10)
        rec.wait_for(topics.weeks)
        threads = threading.active_count()
        births(broker)
        assert threading.active_count() <= threads + 1
        # one re-announcement (within the 0-5 s spread plus a quiet second): the configs, then the states
        wait_until(lambda: len(rec.on(topics.weeks)) == 2, 20, "the publisher to announce again")
        assert len(rec.on(configs[0][0])) == 2
        assert threading.active_count() <= threads + 1
    finally:
        link.stop()
        rec.close()
