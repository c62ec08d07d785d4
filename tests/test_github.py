"""The GitHub source: the rule over statuses, the start order, and polls through the reader over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from publisher import state as store
from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING, Deployment
from publisher.friday import count, weekday_numbers
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.sources.github import GitHubClient, GitHubSource
from publisher.sources.github.api import web_base
from publisher.sources.github.order import by_start
from publisher.sources.github.wire import Item, Status, judge, parse_item, parse_status
from publisher.state import SourceState, State
from tests.factories import BERLIN, at
from tests.github_sim import GitHubSim

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "source-samples"
REPO = "acme/payments"
LIST = f"GET /repos/{REPO}/deployments"
STATUSES = f"GET /repos/{REPO}/deployments/{{id}}/statuses"


def ran(sim: GitHubSim, env: str, start: datetime, minutes: int = 9, final: str = "success", repo: str = REPO) -> int:
    """A deployment created a minute before it starts, finishing `minutes` later."""
    return sim.deploy(repo, env, start - timedelta(minutes=1), ("queued", start - timedelta(minutes=1)),
                      ("in_progress", start), (final, start + timedelta(minutes=minutes)))  # fmt: skip


class World:
    """A simulator with a month of weekday deployments and one Friday, and poll() with the project's defaults."""

    def __init__(self, sim: GitHubSim, repositories: tuple[str, ...] = (REPO,)) -> None:
        self.sim = sim
        sim.add_repo(REPO)
        for day in range(2, 26):
            start = at(f"2026-11-{day:02d} 10:00")
            if start.weekday() < 4:
                ran(sim, "production", start)
        self.friday = sim.deploy(REPO, "production", at("2026-11-13 16:41"), ("in_progress", at("2026-11-13 16:42")),
                                 ("success", at("2026-11-13 16:51"), ), sha="a1b2c3d4e5f6a7b8c9d0" * 2,
                                 log_url="https://github.com/acme/payments/actions/runs/1")  # fmt: skip
        ran(sim, "staging", at("2026-11-20 10:00"))  # staging does not count
        self.now = at("2026-11-26 09:00")
        sim.now = lambda: self.now
        self.mono = 0.0
        self.repositories = repositories
        self.source = self.make_source()
        self.state = SourceState("fp")
        self.relisting = Relisting(clock=lambda: self.mono)

    def make_source(self) -> GitHubSource:
        client = GitHubClient(self.sim.url, "gh-token", retry=make_retry(total=1, backoff=0), clock=lambda: self.mono)
        return GitHubSource(client, self.repositories, ("production",))

    def poll(self, now: datetime | None = None, tracking_start: date | None = None) -> SourceState:
        self.now = now or self.now
        self.mono = self.now.timestamp()
        rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=tracking_start, now=self.now)
        self.state = poll(self.source, self.state, rules, self.relisting).state
        return self.state

    def weeks(self) -> int | None:
        c = count(self.state.best, self.state.history_start, None, self.now.date())
        return None if c is None else c.weeks

    def best(self) -> Deployment:
        assert self.state.best is not None
        return self.state.best.deployment


@pytest.fixture
def world() -> Iterator[World]:
    sim = GitHubSim().start()
    w = World(sim)
    yield w
    w.source.close()
    sim.stop()


# --- the rule, pure -----------------------------------------------------------------------------------------------
ITEM = Item(7, at("2026-11-13 10:00"), at("2026-11-13 11:00"), "a1b2c3d")
NOW = at("2026-11-26 09:00")


def st(state: str, when: str, sid: int, url: str | None = None) -> Status:
    return Status(sid, state, at(when), url)


def test_ran_once_any_status_started_and_a_later_inactive_does_not_undo_it() -> None:
    run = judge(ITEM, [st("inactive", "2026-11-13 12:00", 4), st("success", "2026-11-13 10:09", 3),
                       st("in_progress", "2026-11-13 10:01", 2), st("queued", "2026-11-13 10:00", 1)], NOW)  # fmt: skip
    assert (run.lifecycle, run.state, run.started, run.finished) == (RAN, "SUCCESS", at("2026-11-13 10:01"),
                                                                     at("2026-11-13 10:09"))  # fmt: skip


def test_started_and_finished_are_the_first_such_statuses_and_error_is_failed() -> None:
    run = judge(ITEM, [st("error", "2026-11-13 10:20", 3), st("failure", "2026-11-13 10:05", 2),
                       st("success", "2026-11-13 10:30", 4), st("failure", "2026-11-13 10:02", 1)], NOW)  # fmt: skip
    assert (run.lifecycle, run.state, run.started, run.finished) == (RAN, "FAILED", at("2026-11-13 10:02"),
                                                                     at("2026-11-13 10:02"))  # fmt: skip


def test_queued_pending_waiting_only_did_not_run_and_inactive_only_never_will() -> None:
    waiting = [
        st("queued", "2026-11-13 10:00", 1),
        st("waiting", "2026-11-13 10:01", 2),
        st("pending", "2026-11-13 10:02", 3),
    ]
    assert judge(ITEM, waiting, NOW).lifecycle == WAITING
    assert judge(ITEM, [], NOW).lifecycle == WAITING
    assert judge(ITEM, [*waiting, st("inactive", "2026-11-14 10:00", 4)], NOW).lifecycle == NOT_RUN
    assert judge(ITEM, waiting, NOW + timedelta(days=30)).lifecycle == NOT_RUN  # GitHub gave the approval up


def test_running_has_no_finish_and_an_unknown_state() -> None:
    run = judge(ITEM, [st("in_progress", "2026-11-12 23:00", 1, "https://github.com/acme/payments/runs/9")], NOW)
    assert (run.lifecycle, run.state, run.finished, run.url) == (RUNNING, "UNKNOWN", None,
                                                                 "https://github.com/acme/payments/runs/9")  # fmt: skip


def test_the_shared_samples_parse() -> None:
    (raw,) = json.loads((SAMPLES / "github.rest.deployments.docs-example.json").read_text())
    item = parse_item(raw)
    assert (item.id, item.version, item.created) == (1, "a84d88e", datetime(2012, 7, 20, 1, 19, 13, tzinfo=UTC))
    hook = json.loads(
        (SAMPLES / "github.webhook.deployment_status.in_progress.actions.octokit.excerpt.json").read_text()
    )
    status = parse_status(hook["deployment_status"])
    assert (status.state, status.url) == ("in_progress", hook["deployment_status"]["log_url"])
    done = json.loads((SAMPLES / "github.webhook.deployment_status.success.octokit.excerpt.json").read_text())
    assert parse_status(done["deployment_status"]).url is None  # target_url "" is no link


def test_web_addresses() -> None:
    assert web_base("https://api.github.com") == "https://github.com"
    assert web_base("https://ghe.example.com/api/v3") == "https://ghe.example.com"


# --- the start order, pure ----------------------------------------------------------------------------------------
def test_a_deployment_created_earlier_but_started_later_comes_first_and_statuses_are_read_lazily() -> None:
    older = Item(1, at("2026-11-12 10:00"), at("2026-11-13 09:10"), "old")  # waited for approval until Friday
    newer = Item(2, at("2026-11-12 11:00"), at("2026-11-12 11:10"), "new")  # ran on Thursday meanwhile
    oldest = [Item(i, at("2026-11-11 10:00") - timedelta(days=i), at("2026-11-11 10:10") - timedelta(days=i), "x")
              for i in range(3, 10)]  # fmt: skip
    starts = {1: at("2026-11-13 09:00"), 2: at("2026-11-12 11:00")} | {i.id: i.created for i in oldest}
    judged: list[int] = []

    def dep(i: Item) -> Deployment:
        judged.append(i.id)
        return Deployment("github", i.id, "k", REPO, "production", i.version, "SUCCESS", RAN, starts[i.id],
                          starts[i.id] + timedelta(minutes=9))  # fmt: skip

    chunks = by_start([newer, older, *oldest], dep)
    assert [d.result_id for d in next(chunks)] == [1, 2]  # the Friday run first, though it was created first
    assert judged == [2, 1]
    assert [d.result_id for d in next(chunks)] == [3] and judged == [2, 1, 3]  # no further than needed


# --- through the reader -------------------------------------------------------------------------------------------
def test_cold_start_finds_the_friday_deployment_and_then_a_poll_is_one_free_request(world: World) -> None:
    s = world.poll()
    best = world.best()
    assert best.result_id == world.friday and s.best is not None and s.best.friday == date(2026, 11, 13)
    assert (best.project, best.environment, best.version, best.state) == (REPO, "production", "a1b2c3d", "SUCCESS")
    assert best.url == "https://github.com/acme/payments/actions/runs/1"
    assert best.environment_key == "acme/payments:production" and best.source == "github"
    assert set(s.environments) == {"acme/payments:production"}  # staging is not production
    assert world.weeks() == 1
    assert world.sim.requests[STATUSES] <= 9  # the 7 newer, the Friday, one ahead: not all 17 deployments
    world.sim.reset_counts()
    world.poll(at("2026-11-26 09:05"))
    assert dict(world.sim.requests) == {LIST: 1} and world.sim.not_modified == 1 and world.sim.units == 0


def test_a_deployment_that_waited_on_friday_and_ran_on_monday_is_not_a_friday_deployment(world: World) -> None:
    world.poll()
    rid = world.sim.deploy(REPO, "production", at("2026-11-27 15:00"), ("waiting", at("2026-11-27 15:00")))
    world.poll(at("2026-11-27 16:00"))
    assert world.best().result_id == world.friday  # waiting on Friday did not touch production
    world.sim.status(rid, "in_progress", at("2026-11-30 09:00"))
    world.sim.status(rid, "success", at("2026-11-30 09:10"))
    world.poll(at("2026-11-30 10:00"))
    assert world.best().result_id == world.friday and world.weeks() == 2


def test_approved_friday_run_of_an_older_deployment_is_found_though_a_newer_one_sits_above_it(world: World) -> None:
    world.poll()
    waits = world.sim.deploy(REPO, "production", at("2026-11-26 10:00"), ("waiting", at("2026-11-26 10:00")))
    ran(world.sim, "production", at("2026-11-26 11:00"))  # created after it, ran on Thursday
    world.poll(at("2026-11-26 12:00"))
    assert world.best().result_id == world.friday
    world.sim.status(waits, "in_progress", at("2026-11-27 09:00"))
    world.sim.status(waits, "success", at("2026-11-27 09:10"))
    s = world.poll(at("2026-11-27 10:00"))
    assert world.best().result_id == waits and s.best is not None and s.best.friday == date(2026, 11, 27)


def test_cold_start_orders_by_start_so_the_floor_does_not_hide_a_late_approved_run() -> None:
    sim = GitHubSim().start()
    try:
        sim.add_repo(REPO)
        sim.add_repo("acme/web")
        ran(sim, "production", at("2026-11-13 16:00"), repo="acme/web")  # a Friday elsewhere: the floor
        waits = sim.deploy(REPO, "production", at("2026-11-12 09:00"), ("waiting", at("2026-11-12 09:00")),
                           ("in_progress", at("2026-11-20 09:00")), ("success", at("2026-11-20 09:10")))  # fmt: skip
        ran(sim, "production", at("2026-11-12 11:00"))  # created after it, ran on the Thursday before the floor
        for day in (16, 17, 18, 19, 23, 24, 25):
            ran(sim, "production", at(f"2026-11-{day} 10:00"))
        w = World.__new__(World)
        w.sim, w.now, w.mono, w.repositories = sim, at("2026-11-26 09:00"), 0.0, (REPO, "acme/web")
        sim.now = lambda: w.now
        w.source, w.state, w.relisting = w.make_source(), SourceState("fp"), Relisting(clock=lambda: w.mono)
        w.poll()
        assert w.best().result_id == waits and w.weeks() == 0  # Fri 20th, not the other repository's 13th
        w.source.close()
    finally:
        sim.stop()


def test_running_since_thursday_night_is_a_friday_deployment_at_midnight_for_free(world: World) -> None:
    world.poll()
    rid = world.sim.deploy(REPO, "production", at("2026-11-26 22:59"), ("in_progress", at("2026-11-26 23:00")))
    world.poll(at("2026-11-26 23:30"))
    assert world.best().result_id == world.friday
    world.sim.reset_counts()
    s = world.poll(at("2026-11-27 00:05"))
    assert world.best().result_id == rid and s.best is not None and s.best.friday == date(2026, 11, 27)
    assert world.best().finished is None and world.sim.units == 0  # re-read from the memo and two 304s
    assert world.sim.requests == {LIST: 1, STATUSES: 1} and world.sim.not_modified == 2


def test_a_superseded_friday_deployment_still_ran_and_queued_only_did_not(world: World) -> None:
    world.poll()
    queued = world.sim.deploy(REPO, "production", at("2026-11-27 10:00"), ("queued", at("2026-11-27 10:00")))
    world.sim.status(queued, "inactive", at("2026-11-27 10:30"))
    ran(world.sim, "production", at("2026-11-27 11:00"))
    superseded = world.sim.find(ran(world.sim, "production", at("2026-11-27 11:00"), minutes=5))
    world.sim.status(superseded.id, "inactive", at("2026-11-30 09:00"))
    world.poll(at("2026-11-30 10:00"))
    assert world.best().result_id == superseded.id and world.best().state == "SUCCESS"


def test_deep_history_is_paged_with_link(world: World) -> None:
    sim = world.sim
    for k in range(150):  # 150 newer Monday-to-Thursday deployments above the Friday one
        start = at("2026-11-30 10:00") + timedelta(days=7 * (k // 4) + k % 4)
        ran(sim, "production", start, minutes=5)
    world.poll(start + timedelta(hours=1))
    assert world.best().result_id == world.friday
    assert sim.requests[LIST] == 1 + 1 + 2  # the environment discovery, the first 10, then pages of 100


def test_steady_poll_of_many_repositories_is_one_304_each_and_survives_a_restart(tmp_path: Path) -> None:
    sim = GitHubSim().start()
    try:
        names = [f"acme/svc-{k}" for k in range(5)]
        for name in names:
            sim.add_repo(name)
            ran(sim, "production", at("2026-11-24 10:00"), repo=name)
        w = World.__new__(World)
        w.sim, w.now, w.mono, w.repositories = sim, at("2026-11-26 09:00"), 0.0, ("acme/*",)
        sim.now = lambda: w.now
        w.source, w.state, w.relisting = w.make_source(), SourceState("fp"), Relisting(clock=lambda: w.mono)
        w.poll()
        assert len(w.state.environments) == 5
        path = tmp_path / "state.json"
        store.save(path, State("top", {"github": w.state}))
        w.source.close()
        sim.reset_counts()
        w.source, w.relisting = w.make_source(), Relisting(clock=lambda: w.mono)  # a restart (cron's --once)
        w.state = store.load(path, "top", {"github": "fp"}).sources["github"]
        w.poll(at("2026-11-26 09:05"))
        assert sum(sim.requests.values()) == 5 == sim.not_modified and sim.units == 0
        w.source.close()
    finally:
        sim.stop()


def test_owner_listing_falls_back_to_users_and_is_read_again_hourly() -> None:
    sim = GitHubSim(login="octocat").start()
    try:
        sim.add_repo("octocat/site", org=False)
        sim.add_repo("octocat/secret", org=False, private=True)
        for name in ("octocat/site", "octocat/secret"):
            ran(sim, "production", at("2026-11-13 10:00"), repo=name)
        w = World.__new__(World)
        w.sim, w.now, w.mono, w.repositories = sim, at("2026-11-26 09:00"), 0.0, ("octocat/*",)
        sim.now = lambda: w.now
        w.source, w.state, w.relisting = w.make_source(), SourceState("fp"), Relisting(clock=lambda: w.mono)
        w.poll()
        assert set(w.state.environments) == {"octocat/site:production", "octocat/secret:production"}
        assert sim.requests["GET /orgs/octocat/repos"] == 1 and sim.requests["GET /user/repos"] == 1
        sim.add_repo("octocat/new", org=False)
        ran(sim, "production", at("2026-11-20 10:00"), repo="octocat/new")
        w.poll(at("2026-11-26 09:30"))
        assert "octocat/new:production" not in w.state.environments  # not before the hour is up
        w.poll(at("2026-11-26 10:01"))
        assert "octocat/new:production" in w.state.environments and w.best().project == "octocat/new"
        w.source.close()
    finally:
        sim.stop()


def test_github_enterprise_server_under_api_v3() -> None:
    sim = GitHubSim(prefix="/api/v3").start()
    try:
        w = World(sim)
        w.poll()
        assert w.best().result_id == w.friday
        assert w.source.label == f"GitHub at {sim.url}" and sim.url.endswith("/api/v3")
        w.source.close()
    finally:
        sim.stop()
