"""The publisher service's decisions with a controlled clock: messages, errors, waking at midnight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from publisher.config import load
from publisher.http import make_retry
from publisher.loop import next_wake
from publisher.service import Publisher
from publisher.sources.bamboo import BambooSource
from publisher.sources.bamboo.api import BambooAuth, BambooClient
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
    sim.now = clock  # the simulator's Date header agrees with the controlled clock
    client = BambooClient(sim.url, BambooAuth(token="t"), retry=make_retry(total=0))
    return Publisher(cfg, [BambooSource(client, (".*",), ("production",))], clock)


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


def two_sources(tmp_path: Path, sim: BambooSim, clock: Clock) -> Publisher:
    """Bamboo and a deployments file in one publisher, as a team moving off Bamboo would run it."""
    (tmp_path / "deployments.yaml").write_text(
        "- {project: Shop, environment: Production, started: 2026-11-20 15:00, finished: 2026-11-20 15:10}\n"
    )
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(
        f"timezone: Europe/Berlin\nstate_file: {tmp_path / 'state.json'}\n"
        f"bamboo: {{url: '{sim.url}', token: t, timeout: 2}}\nfile: {{path: deployments.yaml}}\n"
    )
    cfg = load(cfg_path)
    sim.now = clock
    return Publisher(cfg, cfg.make_sources(), clock)


def test_two_sources_feed_one_number_and_keep_their_results_apart(tmp_path: Path, sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))  # Bamboo's Friday: two weeks ago
    clock = Clock(at("2026-11-26 09:00"))
    pub = two_sources(tmp_path, sim, clock)
    assert pub.poll() is True
    state = json.loads(pub.messages()[2][1])
    assert state["source"] == "bamboo+file" and state["weeks"] == 0
    assert state["last_friday_deploy"]["source"] == "file" and state["last_friday_deploy"]["project"] == "Shop"
    assert set(pub.state.sources) == {"bamboo", "file"}
    sim.fail_next(503, times=10)  # Bamboo breaks: the file still counts, and the error names Bamboo only
    (tmp_path / "deployments.yaml").write_text("[]\n")
    assert pub.poll() is False
    state = json.loads(pub.messages()[2][1])
    assert state["weeks"] == 0 and state["error"].startswith(f"Bamboo at {sim.url} answered HTTP 503")


def test_an_impossible_result_never_sets_the_number(tmp_path: Path, sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))
    bogus = sim.deploy(env, at("2027-01-01 10:00"), at("2027-01-01 10:30"))  # a Friday next year
    pub = publisher(tmp_path, sim, Clock(at("2026-11-26 09:00")))
    assert pub.poll() is True  # a warning, not a failure: the rest of the history is fine
    state = json.loads(pub.messages()[2][1])
    assert state["weeks"] == 1 and state["last_friday_deploy"]["started"].startswith("2026-11-13")
    assert f"skipped result {bogus} of Payments → Production: it started 2027-01-01" in state["error"]
    pub.save()
    best = pub.state.best
    assert best is not None and best.deployment.result_id != bogus


def test_a_clock_days_behind_the_source_publishes_no_new_number(tmp_path: Path, sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))
    clock = Clock(at("2026-11-26 09:00"))
    pub = publisher(tmp_path, sim, clock)
    assert pub.poll() is True and pub.messages()[1] == ("friday-deploy/weeks", b"1")
    clock.now = at("2027-03-01 09:00")  # this machine jumps ahead; the source's clock did not
    sim.now = lambda: at("2026-11-26 09:05")
    assert pub.poll() is False
    assert pub.messages()[1] == ("friday-deploy/weeks", b"1")  # not the 15 that the wrong "today" would give
    error = json.loads(pub.messages()[2][1])["error"]
    assert error.startswith("this machine's clock says 2027-03-01 08:00 UTC but Bamboo at") and "set the clock" in error
    clock.now = at("1970-01-02 00:00")
    pub.refresh()
    assert pub.messages()[1] == ("friday-deploy/weeks", b"1")


def test_an_unforeseen_failure_is_one_line_not_a_crash(
    tmp_path: Path, sim: BambooSim, caplog: pytest.LogCaptureFixture
) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))
    clock = Clock(at("2026-11-26 09:00"))
    pub = publisher(tmp_path, sim, clock)
    assert pub.poll() is True

    def broken(envs: object) -> dict[str, object]:
        raise RuntimeError("a bug nobody foresaw")

    pub.sources[0].latest = broken  # type: ignore[method-assign]
    caplog.clear()
    with caplog.at_level("ERROR"):
        assert pub.poll() is False
        assert pub.poll() is False
    assert pub.messages()[1] == ("friday-deploy/weeks", b"1")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"Bamboo at {sim.url} could not be read (RuntimeError: a bug nobody foresaw); keeping the last good number"
    ]


def test_an_outage_is_one_line_and_its_end_another(
    tmp_path: Path, sim: BambooSim, caplog: pytest.LogCaptureFixture
) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, at("2026-11-13 10:00"), at("2026-11-13 10:30"))
    pub = publisher(tmp_path, sim, Clock(at("2026-11-26 09:00")))
    assert pub.poll() is True
    sim.fail_next(503, times=5)
    caplog.clear()
    with caplog.at_level("INFO"):
        for _ in range(5):
            assert pub.poll() is False
        assert pub.poll() is True
    lines = [r.getMessage() for r in caplog.records if r.name == "fdc.publisher"]
    assert lines == [
        f"Bamboo at {sim.url} answered HTTP 503 for the environments' latest results; keeping the last good number",
        f"Bamboo at {sim.url} answers again",
    ]
