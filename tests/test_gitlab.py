"""The `gitlab:` source against the GitLab simulator over real HTTP: the rule, the order the reader needs, one
request per project in a steady poll, group/* with subgroups, tiers, paging, and every error as a sentence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from publisher import state as store
from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING
from publisher.friday import count, weekday_numbers
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.report import sentence
from publisher.source import SourceError
from publisher.sources.gitlab import GitLabSource
from publisher.sources.gitlab.api import GitLabClient
from publisher.sources.gitlab.wire import Project, deployment
from publisher.state import SourceState, State
from tests.factories import BERLIN, at
from tests.gitlab_sim import GitLabSim

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "source-samples"
TOKEN = "glpat-sim"


def deployments_requests(sim: GitLabSim) -> list[str]:
    return [p for p in sim.log if "/deployments" in p]


class World:
    """A GitLab with a group `acme` (a subgroup, a shared project) and a poll() bound to the defaults."""

    def __init__(
        self, sim: GitLabSim, projects: tuple[str, ...] = ("acme/*",), envs: tuple[str, ...] = ("production",)
    ):
        self.sim = sim
        self.now = at("2026-11-26 09:00")
        sim.now = lambda: self.now
        self.payments = sim.add_project("acme/payments")
        self.prod = sim.add_env(self.payments, "production")
        self.staging = sim.add_env(self.payments, "staging")
        self.api = sim.add_project("acme/platform/api")  # a subgroup's project
        self.live = sim.add_env(self.api, "live", tier="production")  # matches by tier
        other = sim.add_project("other/shared", shared_with=("acme",))  # shared with acme: not acme's
        sim.deploy(sim.add_env(other, "production"), at("2026-11-20 16:00"), at("2026-11-20 16:05"))
        for day in range(2, 26):  # every weekday morning, never on a Friday ...
            start = at(f"2026-11-{day:02d} 10:00")
            if start.weekday() < 4:
                sim.deploy(self.prod, start, start + timedelta(minutes=9))
        self.friday = sim.deploy(self.live, at("2026-11-13 16:42"), at("2026-11-13 16:51"))  # ... but one
        sim.deploy(self.staging, at("2026-11-20 10:00"), at("2026-11-20 10:05"))  # staging does not count
        self.client = GitLabClient(sim.url, TOKEN, retry=make_retry(total=1, backoff=0))
        self.source = GitLabSource(self.client, projects, envs)
        self.state = SourceState("fp")
        self.relisting = Relisting(clock=lambda: self.now.timestamp())

    def poll(self, now: datetime | None = None) -> SourceState:
        self.now = now or self.now
        rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=None, now=self.now)
        self.state = poll(self.source, self.state, rules, self.relisting).state
        return self.state

    def weeks(self) -> int | None:
        c = count(self.state.best, self.state.history_start, None, self.now.date())
        return None if c is None else c.weeks

    def best_id(self) -> int | str | None:
        return None if self.state.best is None else self.state.best.deployment.result_id

    def steady(self, now: datetime) -> list[str]:
        """The deployments requests of one poll at `now` (listing projects and environments, hourly, aside)."""
        self.sim.log.clear()
        self.poll(now)
        return deployments_requests(self.sim)


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


@pytest.fixture
def world(sim: GitLabSim) -> World:
    return World(sim)


# --- the rule, pure ------------------------------------------------------------------------------------------
PROJ = Project(7, "acme/payments", "https://gitlab.example.com/acme/payments")
T0, T1, T2 = "2026-11-06T15:40:00.000Z", "2026-11-06T15:42:00.000Z", "2026-11-06T15:51:00.000Z"


def item(status: str, job: dict[str, Any] | str | None = "default", **extra: Any) -> dict[str, Any]:
    if job == "default":
        job = {"started_at": T1, "finished_at": T2, "web_url": "https://gitlab.example.com/acme/payments/-/jobs/9"}
    d = {"id": 41, "iid": 1, "ref": "main", "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "status": status,
         "created_at": T0, "updated_at": "2026-11-06T15:52:00.000Z", "environment": {"id": 9, "name": "production"},
         "deployable": job}  # fmt: skip
    return d | extra


def at_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("status", "job", "lifecycle", "state", "started", "finished"),
    [
        ("success", "default", RAN, "SUCCESS", T1, T2),
        ("failed", "default", RAN, "FAILED", T1, T2),
        ("running", {"started_at": T1, "finished_at": None}, RUNNING, "UNKNOWN", T1, None),
        ("canceled", "default", RAN, "FAILED", T1, T2),  # its job had started: it touched production
        ("canceled", {"started_at": None, "finished_at": T2}, NOT_RUN, "FAILED", T0, T2),
        ("canceled", None, NOT_RUN, "FAILED", T0, "2026-11-06T15:52:00.000Z"),
        ("skipped", {"started_at": None, "finished_at": None}, NOT_RUN, "UNKNOWN", T0, "2026-11-06T15:52:00.000Z"),
        ("created", {"started_at": None, "finished_at": None}, WAITING, "UNKNOWN", T0, None),
        ("blocked", {"started_at": None, "finished_at": None}, WAITING, "UNKNOWN", T0, None),
        ("success", None, RAN, "SUCCESS", T0, "2026-11-06T15:52:00.000Z"),  # through the API: its own times
        ("success", {"started_at": T1, "finished_at": None}, RAN, "SUCCESS", T1, "2026-11-06T15:52:00.000Z"),
        ("running", None, RUNNING, "UNKNOWN", T0, None),
    ],
)
def test_the_rule(status: str, job: Any, lifecycle: str, state: str, started: str, finished: str | None) -> None:
    d = deployment(item(status, job), proj=PROJ, env_key="7:9", base_url="https://gitlab.example.com").dep
    assert (d.lifecycle, d.state, d.started, d.finished) == (
        lifecycle, state, at_utc(started), None if finished is None else at_utc(finished),
    )  # fmt: skip
    assert (d.source, d.result_id, d.project, d.environment, d.version) == (
        "gitlab", 41, "acme/payments", "production", "a1b2c3d4",
    )  # fmt: skip


def test_links_go_to_the_job_else_the_environment_page() -> None:
    base = "https://gitlab.example.com"
    assert (
        deployment(item("success"), proj=PROJ, env_key="7:9", base_url=base).dep.url == f"{base}/acme/payments/-/jobs/9"
    )
    api = deployment(item("success", None), proj=PROJ, env_key="7:9", base_url=base).dep
    assert api.url == f"{base}/acme/payments/-/environments/9"
    no_web = Project(7, "acme/payments", "")
    assert deployment(item("success", None), proj=no_web, env_key="7:9", base_url=f"{base}/gitlab").dep.url == (
        f"{base}/gitlab/acme/payments/-/environments/9"
    )


def test_the_docs_sample_parses() -> None:
    items = json.loads((SAMPLES / "gitlab.rest.deployments.list.docs-example.json").read_text())
    deps = [deployment(i, proj=PROJ, env_key=None, base_url="http://gitlab.dev").dep for i in items]
    assert [(d.result_id, d.lifecycle, d.version, d.environment_key) for d in deps] == [
        (41, WAITING, "99d03678", "7:9"), (42, WAITING, "a91957a8", "7:9"),
    ]  # fmt: skip
    assert deps[0].url == f"{PROJ.web_url}/-/environments/9"  # the sample's job has no web_url


# --- through the reader ----------------------------------------------------------------------------------------
def test_cold_start_finds_the_friday_deployment_in_a_subgroup(world: World) -> None:
    s = world.poll()
    assert world.best_id() == world.friday and world.weeks() == 1
    assert s.best is not None and s.best.friday == date(2026, 11, 13)
    assert s.best.deployment.project == "acme/platform/api" and s.best.deployment.environment == "live"
    assert set(s.environments) == {f"{world.payments}:{world.prod}", f"{world.api}:{world.live}"}
    assert not any("other%2Fshared" in p or "/projects/" + str(world.payments + 100) in p for p in world.sim.log)
    assert all("sort=desc" in p for p in deployments_requests(world.sim))


def test_the_dry_run_sentence(world: World) -> None:
    world.poll()
    c = count(world.state.best, world.state.history_start, None, world.now.date())
    line = sentence(c, ("friday",), BERLIN)
    dep = world.sim.deployments[world.friday]
    assert dep.job is not None
    assert line == (
        f"1 week since the last Friday deployment: acme/platform/api → live, {dep.sha[:8]}, "
        f"Fri 2026-11-13 16:42–16:51 Europe/Berlin (SUCCESS) {world.sim.url}/acme/platform/api/-/jobs/{dep.job.id}"
    )


def test_tiers_and_names(sim: GitLabSim) -> None:
    w = World(sim, envs=("production",))
    extra = sim.add_env(w.payments, "prod-eu", tier="production")
    sim.add_env(w.payments, "production-like", tier="staging")
    names = {e.name for e in w.source.environments()}
    assert names == {"production", "live", "prod-eu"}
    w.source.patterns = ("prod-.*",)  # the word production is not matched: tiers do not apply
    assert {e.name for e in w.source.environments()} == {"prod-eu"}
    assert extra


def test_literal_projects_by_path(sim: GitLabSim) -> None:
    w = World(sim, projects=("acme/payments",))
    w.poll()
    assert set(w.state.environments) == {f"{w.payments}:{w.prod}"}
    assert any(p.startswith("/api/v4/projects/acme%2Fpayments?") or p == "/api/v4/projects/acme%2Fpayments"
               for p in sim.log)  # fmt: skip


def test_a_steady_poll_is_one_request_per_project(world: World) -> None:
    world.poll()
    for minutes in (5, 10, 15):
        log = world.steady(world.now + timedelta(minutes=minutes))
        assert len(log) == 2 and all("updated_after=" in p and "environment=" not in p for p in log), log
    assert world.weeks() == 1


def test_only_an_environment_with_news_is_read(world: World) -> None:
    world.poll()
    rid = world.sim.deploy(world.prod, at("2026-11-27 11:00"), at("2026-11-27 11:04"))  # a Friday deployment
    log = world.steady(at("2026-11-27 12:00"))
    reads = [p for p in log if "environment=" in p]
    assert len(log) == 3 and len(reads) == 1 and "per_page=10&" in reads[0], log
    assert world.best_id() == rid and world.weeks() == 0
    assert len(world.steady(at("2026-11-27 12:05"))) == 2  # read: back to one request per project


def test_running_into_friday_is_read_every_poll_until_it_ends(world: World) -> None:
    rid = world.sim.deploy(world.prod, at("2026-11-26 20:00"))  # Thursday evening, still running
    world.poll(at("2026-11-26 23:00"))
    assert world.best_id() == world.friday
    log = world.steady(at("2026-11-27 00:05"))  # no change at GitLab, but it was running: read again
    assert len([p for p in log if "environment=" in p]) == 1
    assert world.best_id() == rid and world.state.best is not None and world.state.best.friday == date(2026, 11, 27)
    world.sim.finish(rid, at("2026-11-27 00:30"))
    world.poll(at("2026-11-27 01:00"))
    assert world.state.best is not None and world.state.best.deployment.finished == at("2026-11-27 00:30")
    assert len(world.steady(at("2026-11-27 01:05"))) == 2  # settled: no more reads


def test_a_manual_job_never_played_costs_nothing(world: World) -> None:
    world.sim.deploy(world.prod, at("2026-11-25 12:00"), status="created")  # waits for a click, maybe forever
    world.poll()
    for minutes in (5, 10):
        assert len(world.steady(world.now + timedelta(minutes=minutes))) == 2


def test_created_earlier_started_later_warm(world: World) -> None:
    """A manual job's deployment created on Monday, played on Friday: by id it is older than Tuesday's."""
    manual = world.sim.deploy(world.prod, at("2026-11-23 09:00"), status="created")
    world.sim.deploy(world.prod, at("2026-11-24 10:00"), at("2026-11-24 10:05"))
    world.poll()
    assert world.best_id() == world.friday
    world.sim.play(manual, at("2026-11-27 10:00"))
    world.poll(at("2026-11-27 10:03"))
    assert world.best_id() == manual and world.weeks() == 0
    assert world.state.best is not None and world.state.best.deployment.finished is None


def test_created_earlier_started_later_cold(sim: GitLabSim) -> None:
    """Cold start: the deployment that ran on Friday was created weeks before and sits deep in id order, below
    150 deployments that started before the floor another environment's Friday sets; it is found, in one page."""
    w = World(sim)
    manual = sim.deploy(w.prod, at("2026-06-01 09:00"), status="created")
    for k in range(150):
        start = at("2026-06-02 10:00") + timedelta(days=k)
        if start.weekday() != 4:
            sim.deploy(w.prod, start, start + timedelta(minutes=5))
    sim.play(manual, at("2026-11-20 16:00"))
    sim.finish(manual, at("2026-11-20 16:10"))
    w.poll()
    assert w.best_id() == manual and w.weeks() == 0
    by_id_desc = sorted((d for d in sim.deployments.values() if d.env_id == w.prod), key=lambda d: -d.id)
    assert [d.id for d in by_id_desc].index(manual) >= 100  # not on the first page of 100 by id
    assert len([p for p in sim.log if "environment=production" in p and "page=1" in p]) == 1
    assert not any("page=2" in p for p in deployments_requests(sim))


def test_paging_reads_deep_history(sim: GitLabSim) -> None:
    w = World(sim)
    sim.deployments.pop(w.friday)  # no Friday anywhere: the whole history is read, to find where it starts
    first = at("2025-01-06 10:00")
    for k in range(250):
        start = first + timedelta(days=k)
        if start.weekday() != 4:
            sim.deploy(w.prod, start, start + timedelta(minutes=5))
    w.poll()
    assert w.state.best is None and w.state.history_start == date(2025, 1, 6)
    pages = [p for p in sim.log if "environment=production" in p]
    assert [p.rsplit("page=", 1)[1] for p in pages] == ["1", "2", "3"]


@pytest.mark.parametrize("paging", ["link", "none"])
def test_paging_without_x_next_page(sim: GitLabSim, paging: str) -> None:
    w = World(sim)
    sim.deployments.pop(w.friday)
    for k in range(150):
        start = at("2025-01-06 10:00") + timedelta(days=k)
        if start.weekday() != 4:
            sim.deploy(w.prod, start, start + timedelta(minutes=5))
    sim.paging = paging
    w.poll()
    assert w.state.history_start == date(2025, 1, 6)


def test_new_environments_are_found_at_the_next_listing(world: World) -> None:
    world.poll()
    eu = world.sim.add_env(world.payments, "production-eu", tier="production")
    rid = world.sim.deploy(eu, at("2026-11-26 09:10"), at("2026-11-26 09:20"))
    world.poll(at("2026-11-26 09:30"))
    assert f"{world.payments}:{eu}" not in world.state.environments
    s = world.poll(at("2026-11-26 10:01"))
    assert s.frontiers[f"{world.payments}:{eu}"].result_id == rid
    assert len(world.steady(at("2026-11-26 10:06"))) == 2


def test_relative_url_root() -> None:
    sim = GitLabSim(root="/gitlab").start()
    try:
        w = World(sim)
        w.poll()
        assert w.best_id() == w.friday and sim.url.endswith("/gitlab")
        wrong = GitLabSource(GitLabClient(sim.url.removesuffix("/gitlab"), TOKEN), ("acme/*",), ("production",))
        with pytest.raises(SourceError, match=r"does not know the projects of group 'acme' \(HTTP 404\).*relative URL"):
            wrong.environments()
    finally:
        sim.stop()


# --- the simulator is faithful to the facts --------------------------------------------------------------------
def test_the_simulator_sorts_ascending_by_default_and_refuses_bad_filters(world: World) -> None:
    url, headers = f"{world.sim.url}/api/v4/projects/{world.payments}/deployments", {"PRIVATE-TOKEN": TOKEN}
    r = requests.get(url, headers=headers, timeout=5)
    ids = [d["id"] for d in r.json()]
    mine = [d.id for d in world.sim.deployments.values() if d.project_id == world.payments]
    assert ids == sorted(ids) and ids[0] == min(mine)  # the default: oldest first ...
    assert r.headers["x-per-page"] == "20"  # ... 20 a page
    for params in ({"order_by": "finished_at"}, {"finished_after": "2026-01-01T00:00:00Z", "order_by": "finished_at"},
                   {"updated_after": "2026-01-01T00:00:00Z"}):  # fmt: skip
        assert requests.get(url, headers=headers, params=params, timeout=5).status_code == 400
    r = requests.get(url, headers=headers, params={"per_page": 5, "page": 2}, timeout=5)
    assert (r.headers["x-page"], r.headers["x-per-page"], r.headers["x-next-page"]) == ("2", "5", "3")
    assert 'rel="next"' in r.headers["Link"]


# --- errors as sentences ---------------------------------------------------------------------------------------
def fails(w: World) -> str:
    with pytest.raises(SourceError) as e:
        w.poll()
    text = str(e.value)
    assert text.startswith(f"GitLab at {w.sim.url}") and TOKEN not in text and "\n" not in text, text
    return text


def test_a_wrong_token(sim: GitLabSim) -> None:
    w = World(sim)
    w.source.client = GitLabClient(sim.url, "glpat-wrong")
    w.client = w.source.client
    assert "refused the token (HTTP 401): check gitlab.token (or FDC_GITLAB_TOKEN)" in fails(w)


def test_a_token_without_read_api() -> None:
    sim = GitLabSim(scope_ok=False).start()
    try:
        assert "(HTTP 403): the token needs the read_api scope" in fails(World(sim))
    finally:
        sim.stop()


def test_an_unknown_project_and_group(sim: GitLabSim) -> None:
    assert "does not know project 'acme/nope' (HTTP 404)" in fails(World(sim, projects=("acme/nope",)))
    assert "does not know the projects of group 'nope' (HTTP 404)" in fails(World(sim, projects=("nope/*",)))


def test_a_group_without_projects(sim: GitLabSim) -> None:
    sim.groups["empty"] = 999
    assert "has no projects the token can see in group 'empty'" in fails(World(sim, projects=("empty/*",)))


def test_no_matching_environment(sim: GitLabSim) -> None:
    text = fails(World(sim, envs=("prod-xx",)))
    assert "has no environment matching gitlab.environments ['prod-xx']" in text


def test_429_with_a_short_retry_after_is_waited_for(world: World) -> None:
    world.sim.fail_next(429, headers={"Retry-After": "0"})
    world.poll()
    assert world.best_id() == world.friday


def test_429_with_a_long_retry_after_is_a_sentence_not_a_wait(world: World) -> None:
    world.poll()
    world.sim.fail_next(429, times=3, headers={"Retry-After": "3600"})
    good = world.state
    text = fails(world)
    assert "is rate limiting this token (HTTP 429) and asks to wait 3600 s: the next poll tries again" in text
    assert world.state is good and world.sim.requests.total() > 0
    assert len(world.sim.faults) == 2  # asked once, not in a loop


def test_the_notes_survive_a_restart(world: World, tmp_path: Path) -> None:
    """`--once` from cron: the state file carries `since` and the tops, so the next run is a steady poll too."""
    world.poll()
    path = tmp_path / "state.json"
    store.save(path, State("fp", {"gitlab": world.state}))
    world.state = store.load(path, "fp", {"gitlab": "fp"}).sources["gitlab"]
    world.source = GitLabSource(GitLabClient(world.sim.url, TOKEN), ("acme/*",), ("production",))
    world.relisting = Relisting(clock=lambda: world.now.timestamp())
    log = world.steady(world.now + timedelta(minutes=5))
    assert len(log) == 2 and all("updated_after=" in p for p in log), log
    assert world.best_id() == world.friday


def test_notes_that_make_no_sense_are_read_again(world: World) -> None:
    """A hand-edited or damaged memo: every environment is read once more, then steady again."""
    world.poll()
    world.state.memo = {"since": {"x": [1, 2]}, "tops": "nonsense"}
    log = world.steady(world.now + timedelta(minutes=5))
    assert len([p for p in log if "environment=" in p]) == 2
    assert world.best_id() == world.friday
    assert len(world.steady(world.now + timedelta(minutes=5))) == 2
