"""Polls against the simulator: cold start, steady state in one request, running results, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from publisher import state as store
from publisher.friday import count, weekday_numbers
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.source import SourceError
from publisher.sources.bamboo import BambooSource
from publisher.sources.bamboo.api import BambooAuth, BambooClient, BambooError
from publisher.state import SourceState, State
from tests.bamboo_sim import BambooSim
from tests.factories import BERLIN, at

STATUS = "POST /rest/api/latest/deploy/dashboard/status"
PROJECTS = "GET /rest/api/latest/deploy/project/all"


def results_requests(sim: BambooSim) -> int:
    return sum(n for k, n in sim.requests.items() if k.endswith("/results"))


class World:
    """A simulator with a small history, a client, and poll() bound to the project's defaults."""

    def __init__(self, sim: BambooSim) -> None:
        self.sim = sim
        self.client = BambooClient(sim.url, BambooAuth(token="sim-token"), retry=make_retry(total=1, backoff=0))
        self.prod = sim.add_env("Payments", "Production")
        self.web = sim.add_env("Website", "production")
        self.staging = sim.add_env("Payments", "Staging")
        for day in range(2, 26):  # a deployment every weekday morning, never on a Friday ...
            start = at(f"2026-11-{day:02d} 10:00")
            if start.weekday() < 4:
                sim.deploy(self.prod, start, start + timedelta(minutes=10))
        self.friday = sim.deploy(
            self.web, at("2026-11-13 16:42"), at("2026-11-13 16:51"), version="web-7"
        )  # ... but one
        sim.deploy(self.staging, at("2026-11-20 10:00"), at("2026-11-20 10:05"))  # staging does not count
        self.source = BambooSource(self.client, (".*",), ("production",))
        self.state = SourceState("fp")
        self.mono = 0.0  # the monotonic clock: follows `now` unless a test steps the wall clock
        self.relisting = Relisting(clock=lambda: self.mono)

    def poll(
        self, now: datetime, tracking_start: date | None = None, days: tuple[str, ...] = ("friday",)
    ) -> SourceState:
        self.mono = now.timestamp()
        rules = PollRules(tz=BERLIN, days=weekday_numbers(list(days)), tracking_start=tracking_start, now=now)
        self.state = poll(self.source, self.state, rules, self.relisting).state
        return self.state

    def saved(self) -> State:
        return State("fp", {"bamboo": self.state})

    def weeks(self, now: datetime, tracking_start: date | None = None) -> int | None:
        c = count(self.state.best, self.state.history_start, tracking_start, now.date())
        return None if c is None else c.weeks


@pytest.fixture
def world() -> Iterator[World]:
    sim = BambooSim().start()
    yield World(sim)
    sim.stop()


def test_cold_start_finds_the_friday_deployment(world: World) -> None:
    now = at("2026-11-26 09:00")
    s = world.poll(now)
    assert s.best is not None and s.best.deployment.result_id == world.friday and s.best.friday == date(2026, 11, 13)
    assert s.best.deployment.version == "web-7" and s.best.deployment.project == "Website"
    assert world.weeks(now) == 1
    assert set(s.environments) == {str(world.prod), str(world.web)}  # Staging is not production
    assert world.sim.requests[PROJECTS] == 1 and world.sim.requests[STATUS] == 0  # cold: every env is read anyway


def test_steady_poll_is_one_request(world: World) -> None:
    world.poll(at("2026-11-26 09:00"))
    before = dict(world.sim.requests)
    bytes_before = world.sim.bytes_sent
    world.poll(at("2026-11-26 09:05"))
    new = {k: v - before.get(k, 0) for k, v in world.sim.requests.items() if v != before.get(k, 0)}
    assert new == {STATUS: 1}
    assert world.sim.bytes_sent - bytes_before < 1000


def test_only_environments_with_news_are_read(world: World) -> None:
    world.poll(at("2026-11-26 09:00"))
    reads = results_requests(world.sim)
    rid = world.sim.deploy(world.prod, at("2026-11-27 11:00"), at("2026-11-27 11:04"))  # a Friday deployment
    s = world.poll(at("2026-11-27 12:00"))
    assert results_requests(world.sim) - reads == 1
    assert s.best is not None and s.best.deployment.result_id == rid
    assert world.weeks(at("2026-11-27 12:00")) == 0


def test_running_deployment_becomes_a_friday_deployment_at_midnight(world: World) -> None:
    rid = world.sim.deploy(world.prod, at("2026-11-26 20:00"))  # Thursday evening, still running
    s = world.poll(at("2026-11-26 23:00"))
    assert s.best is not None and s.best.deployment.result_id == world.friday
    reads = results_requests(world.sim)
    s = world.poll(at("2026-11-27 00:05"))  # same id on the dashboard, but it was running: read again
    assert results_requests(world.sim) - reads == 1
    assert s.best is not None and s.best.deployment.result_id == rid and s.best.friday == date(2026, 11, 27)
    assert s.best.deployment.finished is None
    world.sim.finish(rid, at("2026-11-27 00:30"))
    s = world.poll(at("2026-11-27 01:00"))
    assert s.best is not None and s.best.deployment.finished == at("2026-11-27 00:30")
    reads = results_requests(world.sim)
    world.poll(at("2026-11-27 01:05"))
    assert results_requests(world.sim) == reads  # finished now: no more re-reads


def test_expired_history_does_not_change_the_number(world: World, tmp_path: Path) -> None:
    now = at("2026-11-26 09:00")
    world.poll(now)
    assert world.weeks(now) == 1
    path = tmp_path / "state.json"
    store.save(path, world.saved())
    assert world.sim.expire(before=at("2026-11-20 00:00")) > 0  # Bamboo's expiry deletes the Friday deployment
    world.poll(at("2026-11-26 09:05"))
    assert world.weeks(now) == 1
    world.state = store.load(path, "fp", {"bamboo": "fp"}).sources["bamboo"]  # a restart after expiry
    world.relisting = Relisting()
    world.poll(at("2026-11-26 09:10"))
    assert world.weeks(now) == 1 and world.state.best is not None
    assert world.state.best.deployment.result_id == world.friday


def test_expired_history_without_state_is_a_different_number(world: World) -> None:
    """The reason state is kept: a fresh start after expiry would only know the newer history."""
    world.sim.expire(before=at("2026-11-20 00:00"))
    now = at("2026-11-26 09:00")
    s = world.poll(now)
    assert s.best is None and s.history_start == date(2026, 11, 23)
    assert world.weeks(now) == 0


def test_no_friday_ever_counts_from_history_start(world: World) -> None:
    world.sim.envs[world.web].results.clear()
    now = at("2026-11-26 09:00")
    s = world.poll(now)
    assert s.best is None and s.history_start == date(2026, 11, 2)
    assert world.weeks(now) == 3


def test_tracking_start_ignores_older_friday_deployments_and_stops_reading_there(world: World) -> None:
    now = at("2026-11-26 09:00")
    s = world.poll(now, tracking_start=date(2026, 11, 16))
    assert s.best is None
    assert world.weeks(now, tracking_start=date(2026, 11, 16)) == 1


def test_other_days(world: World) -> None:
    now = at("2026-11-26 09:00")
    s = world.poll(now, days=("wednesday",))
    assert s.best is not None and s.best.friday == date(2026, 11, 25)


def test_failure_leaves_the_state_alone(world: World) -> None:
    good = world.poll(at("2026-11-26 09:00"))
    world.sim.fail_next(500, times=5)
    with pytest.raises(BambooError):
        world.poll(at("2026-11-26 09:05"))
    assert world.state is good


def test_no_matching_environment_is_an_error(world: World) -> None:
    world.source = BambooSource(world.client, (".*",), ("prod-eu",))
    with pytest.raises(SourceError, match=r"has no environment matching bamboo.environments \['prod-eu'\]"):
        world.poll(at("2026-11-26 09:00"))


def test_new_environments_are_discovered_within_the_hour(world: World) -> None:
    world.poll(at("2026-11-26 09:00"))
    api = world.sim.add_env("API", "Production")
    rid = world.sim.deploy(api, at("2026-11-26 09:10"), at("2026-11-26 09:20"))
    s = world.poll(at("2026-11-26 09:30"))
    assert str(api) not in s.environments
    s = world.poll(at("2026-11-26 10:01"))
    assert str(api) in s.environments and s.best is not None
    assert s.best.deployment.result_id == world.friday  # the new environment's history was read...
    assert s.frontiers[str(api)].result_id == rid  # ... up to its newest result
    assert world.sim.requests[PROJECTS] == 2


def test_a_wall_clock_that_steps_back_does_not_suspend_relisting(world: World) -> None:
    world.poll(at("2026-11-26 09:00"))
    api = world.sim.add_env("API", "Production")
    world.sim.deploy(api, at("2026-11-26 09:10"), at("2026-11-26 09:20"))
    world.mono += 3601  # an hour passes on the monotonic clock ...
    rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=None, now=at("2026-11-12 09:00"))
    s = poll(world.source, world.state, rules, world.relisting).state  # ... while the wall clock went back 2 weeks
    assert str(api) in s.environments and world.sim.requests[PROJECTS] == 2


def test_a_restart_relists_when_the_saved_listing_is_from_the_future(world: World) -> None:
    world.poll(at("2026-11-26 09:00"))
    world.relisting = Relisting()  # a new process: only the saved wall-clock time is known
    rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=None, now=at("2026-11-12 09:00"))
    poll(world.source, world.state, rules, world.relisting)
    assert world.sim.requests[PROJECTS] == 2


def test_state_round_trips_through_its_file(world: World, tmp_path: Path) -> None:
    world.poll(at("2026-11-26 09:00"))
    path = tmp_path / "deep" / "state.json"
    store.save(path, world.saved())
    assert store.load(path, "fp", {"bamboo": "fp"}) == world.saved()
    assert store.load(path, "other-config", {"bamboo": "fp"}).best is None  # another timezone/days: rebuild
    assert store.load(path, "fp", {"bamboo": "other"}).best is None  # other Bamboo settings: rebuild that source


def test_steady_poll_does_not_grow_with_environments(world: World) -> None:
    for i in range(60):
        env = world.sim.add_env(f"Service {i}", "Production")
        world.sim.deploy(env, at("2026-11-24 10:00"), at("2026-11-24 10:05"))
    world.poll(at("2026-11-26 09:00"))
    before = dict(world.sim.requests)
    world.poll(at("2026-11-26 09:05"))
    new = {k: v - before.get(k, 0) for k, v in world.sim.requests.items() if v != before.get(k, 0)}
    assert new == {STATUS: 1}


def test_corrupt_state_is_rebuilt_with_one_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": 2, "fingerprint": "fp", "sources": {"bamboo": {"best": {"friday": "not-a-date"')
    with caplog.at_level("INFO"):
        s = store.load(path, "fp", {"bamboo": "fp"})
    assert s == State("fp")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"the state file {path} is corrupt (Expecting ',' delimiter")
    assert line.endswith("): rebuilding it from the sources")


def test_save_is_atomic_and_leaves_no_temp_files(world: World, tmp_path: Path) -> None:
    world.poll(at("2026-11-26 09:00"))
    path = tmp_path / "state.json"
    store.save(path, world.saved())
    first = path.read_bytes()
    store.save(path, State("fp"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert path.read_bytes() != first and store.load(path, "fp", {"bamboo": "fp"}) == State("fp")


def test_cold_start_reads_other_environments_only_back_to_the_friday_found(world: World) -> None:
    """Breadth first: a Friday found in one environment stops the others there, not at the bottom of history."""
    deep = [world.sim.add_env(f"Deep {i}", "Production") for i in range(3)]
    for env in deep:  # 400 daily deployments, never on a Friday: without a shared floor, 4+ pages each
        for day in range(1, 401):
            start = at("2026-11-25 10:00") - timedelta(days=day)
            if start.weekday() != 4:
                world.sim.deploy(env, start, start + timedelta(minutes=5))
    s = world.poll(at("2026-11-26 09:00"))
    assert s.best is not None and s.best.deployment.result_id == world.friday
    assert world.weeks(at("2026-11-26 09:00")) == 1
    for env in deep:
        assert world.sim.requests[f"GET /rest/api/latest/deploy/environment/{env}/results"] == 1
    assert s.frontiers[str(deep[0])].result_id == world.sim.envs[deep[0]].results[0].id
