"""The publisher service's decisions with a controlled clock: messages, errors, waking at midnight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from publisher.bamboo import BambooAuth, BambooClient, make_retry
from publisher.config import load
from publisher.poll import BambooSource
from publisher.service import Publisher, next_wake
from tests.bamboo_sim import BambooSim
from tests.factories import at


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sim() -> Iterator[BambooSim]:
    s = BambooSim(token="t").start()
    yield s
    s.stop()


def publisher(tmp_path: Path, sim: BambooSim, clock: Clock, extra: str = "") -> Publisher:
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(
        f"timezone: Europe/Berlin\npoll_interval: 1h\nstate_file: {tmp_path / 'state.json'}\n{extra}"
        f"bamboo: {{url: '{sim.url}', token: t}}\n"
    )
    cfg = load(cfg_path)
    client = BambooClient(sim.url, BambooAuth(token="t"), retry=make_retry(total=0))
    return Publisher(cfg, BambooSource(client, cfg.projects, cfg.environments), clock)


def test_messages_before_and_after_polls(tmp_path: Path, sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    clock = Clock(at("2026-11-26 09:00"))
    pub = publisher(tmp_path, sim, clock)
    assert pub.messages() == [("friday-deploy/status", b"online")]  # not polled yet: nothing to claim
    assert pub.poll() is True  # Bamboo answered, but with no production deployment: no number, and why
    topics = [t for t, _ in pub.messages()]
    assert topics == ["friday-deploy/status", "friday-deploy/state"]
    state = json.loads(pub.messages()[1][1])
    assert state["weeks"] is None and "no production deployment found yet" in state["error"]

    sim.deploy(env, at("2026-11-20 10:00"), at("2026-11-20 10:30"))
    assert pub.poll() is True
    assert [(t, p) for t, p in pub.messages()][:2] == [
        ("friday-deploy/status", b"online"),
        ("friday-deploy/weeks", b"0"),
    ]
    clock.now = at("2026-11-27 00:00:01")  # midnight: the count goes up without any new deployment
    pub.refresh()
    assert pub.messages()[1] == ("friday-deploy/weeks", b"1")

    sim.fail_next(503, times=3)
    assert pub.poll() is False
    assert pub.messages()[1] == ("friday-deploy/weeks", b"1")
    assert "HTTP 503" in json.loads(pub.messages()[2][1])["error"]


def test_tracking_start_gives_a_number_before_any_deployment(tmp_path: Path, sim: BambooSim) -> None:
    sim.add_env("Payments", "Production")
    pub = publisher(tmp_path, sim, Clock(at("2026-11-26 09:00")), "tracking_start: 2026-11-01\n")
    pub.poll()
    state = json.loads(pub.messages()[2][1])
    assert (state["weeks"], state["since"], state["counted_from"]) == (3, "tracking_start", "2026-11-01")


def test_wakes_just_after_local_midnight(tmp_path: Path, sim: BambooSim) -> None:
    clock = Clock(at("2026-11-26 23:59:00"))
    pub = publisher(tmp_path, sim, clock)
    assert next_wake(pub, ok=True) == pytest.approx(61.0)
    clock.now = at("2026-11-26 09:00")
    assert next_wake(pub, ok=True) == pytest.approx(3600.0)
    assert next_wake(pub, ok=False) == pytest.approx(60.0)  # retry sooner after a failure
    clock.now = at("2026-11-26 09:00") + timedelta(hours=14, minutes=59, seconds=30)
    assert next_wake(pub, ok=True) == pytest.approx(31.0)


def test_saved_state_is_published_at_once_after_a_restart(tmp_path: Path, sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))
    clock = Clock(at("2026-11-26 09:00"))
    first = publisher(tmp_path, sim, clock)
    first.poll()
    first.save()
    sim.html_login = True  # Bamboo is behind a broken proxy when the publisher restarts
    again = publisher(tmp_path, sim, clock)
    assert again.messages()[1] == ("friday-deploy/weeks", b"1")
    assert again.poll() is False and again.messages()[1] == ("friday-deploy/weeks", b"1")
