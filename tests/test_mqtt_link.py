"""The shared MQTT link against a real broker: re-assert on connect, no Nagle delay, quiet clean stops."""

from __future__ import annotations

import logging
import socket

import pytest

from common.config import MqttSettings
from common.mqtt import MqttError, MqttLink
from tests.broker import Broker, Recorder, free_port, wait_until


def settings(port: int, client_id: str = "link-test") -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=port, client_id=client_id)


def test_connect_hook_runs_on_every_connect_and_will_on_a_crash(broker: Broker, recorder: Recorder) -> None:
    connects: list[int] = []
    link = MqttLink(settings(broker.port), will=("t/status", b"offline"), on_connect=lambda: connects.append(1))
    link.start()
    try:
        link.wait_connected(10)
        wait_until(lambda: connects == [1], 10, "the first connect hook")
        sock = link.client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        broker.stop()
        broker.start()
        wait_until(lambda: len(connects) == 2, 40, "the connect hook after the broker came back")
    finally:
        link.stop()


def test_clean_stop_is_not_reported_as_a_lost_broker(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    link = MqttLink(settings(broker.port))
    link.start()
    link.wait_connected(10)
    with caplog.at_level(logging.INFO, logger="fdc.mqtt"):
        link.stop()
    assert not [r for r in caplog.records if "lost the MQTT broker" in r.getMessage()]


def test_unreachable_broker_is_a_sentence_after_the_timeout() -> None:
    port = free_port()
    link = MqttLink(settings(port))
    link.start()
    try:
        with pytest.raises(MqttError) as e:
            link.wait_connected(1)
    finally:
        link.stop()
    assert str(e.value).startswith(f"cannot reach the MQTT broker at mqtt://127.0.0.1:{port} (")
    assert str(e.value).endswith("check mqtt.host and mqtt.port and that the broker is running")
