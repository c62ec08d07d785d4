"""Shared fixtures: a real mosquitto per test and a recording client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder

# ../shared/ beside the checkout: real Bamboo responses and the design contract some tests read.
# FDC_SHARED_DIR points elsewhere (the test of the check below uses it).
SHARED = Path(os.environ.get("FDC_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared")
SAMPLES = SHARED / "bamboo-samples"


def pytest_configure(config: pytest.Config) -> None:
    """Where the samples are missing a developer's run skips those tests; in CI (CI set) that would hide that
    they never ran, so the run stops at once with a sentence instead."""
    missing = [path for path in (SAMPLES, SHARED / "design" / "CONTRACT.md") if not path.exists()]
    if os.environ.get("CI") and missing:
        raise pytest.UsageError(
            f"CI is set but {missing[0]} is missing, so the tests that read ../shared/ (real Bamboo responses, "
            "the contract) would be skipped: check out ../shared/ next to this repository (or set FDC_SHARED_DIR)"
        )


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
