"""Shared fixtures: a real mosquitto per test and a recording client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "bamboo-samples"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def recorder(broker: Broker) -> Iterator[Recorder]:
    r = Recorder(broker)
    yield r
    r.close()


@pytest.fixture
def bamboo() -> Iterator[BambooSim]:
    """A Bamboo simulator whose last Friday deployment was three Fridays ago: the number is 3."""
    from tests.publisher_run import bamboo_with_history

    s = bamboo_with_history()
    yield s
    s.stop()
