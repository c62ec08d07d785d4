"""The Bamboo adapter against the simulator over real HTTP: auth, paging, retries, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from urllib3.util.retry import Retry

from publisher.deployment import RUNNING
from publisher.http import make_retry
from publisher.source import EnvInfo
from publisher.sources.bamboo.api import BambooAuth, BambooClient, BambooError
from tests.bamboo_sim import BambooSim
from tests.conftest import SAMPLES

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[BambooSim]:
    s = BambooSim(token="s3cret-token").start()
    yield s
    s.stop()


def client(sim: BambooSim, auth: BambooAuth | None = None, retry: Retry | None = None) -> BambooClient:
    return BambooClient(sim.url, auth or BambooAuth(token="s3cret-token"), timeout=5,
                        retry=retry or make_retry(total=3, backoff=0))  # fmt: skip


def fill(sim: BambooSim, n: int) -> tuple[int, list[int]]:
    env = sim.add_env("Payments", "Production")
    ids = [sim.deploy(env, T0 - timedelta(hours=i), T0 - timedelta(hours=i) + timedelta(minutes=5)) for i in range(n)]
    return env, ids


def test_environments_and_latest(sim: BambooSim) -> None:
    prod, _ = fill(sim, 3)
    staging = sim.add_env("Payments", "Staging")
    other = sim.add_env("Website", "production")
    c = client(sim)
    envs = {int(e.key): e for e in c.environments()}
    assert envs[prod] == EnvInfo(str(prod), "Payments", "Production")
    assert envs[other] == EnvInfo(str(other), "Website", "production") and staging in envs
    latest = c.latest([prod, staging, other])
    assert latest == {prod: sim.envs[prod].results[0].id, staging: None, other: None}
    assert sim.requests["POST /rest/api/latest/deploy/dashboard/status"] == 1


def test_latest_falls_back_to_the_dashboard_on_older_servers() -> None:
    sim = BambooSim(token="t", status_endpoint=False).start()
    try:
        env, ids = fill(sim, 2)
        c = BambooClient(sim.url, BambooAuth(token="t"), retry=make_retry(total=1, backoff=0))
        assert c.latest([env]) == {env: ids[0]}
        assert c.latest([env]) == {env: ids[0]}
        assert sim.requests["POST /rest/api/latest/deploy/dashboard/status"] == 1  # asked once, then remembered
        assert sim.requests["GET /rest/api/latest/deploy/dashboard"] == 2
    finally:
        sim.stop()


@pytest.mark.parametrize("wire", ["epoch", "iso"])
def test_paging_reads_everything_newest_first(wire: str) -> None:
    sim = BambooSim(token="t", wire=wire, max_page=7).start()  # the server caps pages below what we ask
    try:
        env, ids = fill(sim, 30)
        c = BambooClient(sim.url, BambooAuth(token="t"))
        pages = list(c.results(EnvInfo(str(env), "Payments", "Production"), iter([10] * 20)))
        got = [d.result_id for p in pages for d in p]
        assert got == ids  # fill() deploys newest first
        assert all(d.finished is not None and d.state == "SUCCESS" for p in pages for d in p)
    finally:
        sim.stop()


def test_running_result_has_no_finish(sim: BambooSim) -> None:
    env = sim.add_env("Payments", "Production")
    sim.deploy(env, T0)  # no finishedDate on the wire
    (page,) = list(client(sim).results(EnvInfo(str(env), "Payments", "Production"), iter([25])))
    assert page[0].finished is None and page[0].lifecycle == RUNNING and page[0].ran


def test_basic_auth() -> None:
    sim = BambooSim(token=None, username="ci-bot", password="pw-123").start()
    try:
        env, _ = fill(sim, 1)
        ok = BambooClient(sim.url, BambooAuth(username="ci-bot", password="pw-123"))
        assert ok.latest([env])[env] is not None
        bad = BambooClient(sim.url, BambooAuth(username="ci-bot", password="wrong-pw"))
        with pytest.raises(BambooError) as e:
            bad.environments()
        assert str(e.value) == (
            f"Bamboo at {sim.url} refused user 'ci-bot': check bamboo.username and bamboo.password "
            "(or FDC_BAMBOO_USERNAME / FDC_BAMBOO_PASSWORD)"
        )
        assert "wrong-pw" not in str(e.value)
    finally:
        sim.stop()


def test_bad_token_names_the_token_and_never_shows_it(sim: BambooSim) -> None:
    with pytest.raises(BambooError) as e:
        client(sim, BambooAuth(token="not-the-token")).environments()
    assert "refused the personal access token: check bamboo.token (or FDC_BAMBOO_TOKEN)" in str(e.value)
    assert "not-the-token" not in str(e.value) and e.value.status == 401


def test_retries_5xx_then_succeeds(sim: BambooSim) -> None:
    fill(sim, 1)
    sim.fail_next(503, times=2)
    c = client(sim)
    assert len(c.environments()) == 1
    assert sim.requests["GET /rest/api/latest/deploy/project/all"] == 3
    assert c.traffic.requests == 3


def test_429_honours_retry_after(sim: BambooSim) -> None:
    fill(sim, 1)
    sim.fail_next(429, headers={"Retry-After": "1", "Content-Type": "application/json"})
    c = client(sim)
    assert len(c.environments()) == 1
    assert sim.requests["GET /rest/api/latest/deploy/project/all"] == 2


def test_persistent_5xx_is_a_sentence(sim: BambooSim) -> None:
    sim.fail_next(500, times=10)
    with pytest.raises(BambooError) as e:
        client(sim).environments()
    assert (
        str(e.value)
        == f"Bamboo at {sim.url} answered HTTP 500 for the list of deployment projects, also after 3 retries"
    )
    assert sim.requests["GET /rest/api/latest/deploy/project/all"] == 4


def test_html_login_page_is_not_a_json_traceback(sim: BambooSim) -> None:
    sim.html_login = True
    with pytest.raises(BambooError) as e:
        client(sim).environments()
    msg = str(e.value)
    assert "answered the list of deployment projects with an HTML page (HTTP 200) instead of JSON" in msg
    assert "login page" in msg and "JSONDecodeError" not in msg


def test_403_and_404_name_the_environment(sim: BambooSim) -> None:
    env, _ = fill(sim, 1)
    c = client(sim)
    sim.fail_next(403)
    with pytest.raises(BambooError) as e:
        list(c.results(EnvInfo(str(env), "Payments", "Production"), iter([25])))
    assert f"view the results of environment 'Production' (id {env}) of project 'Payments' (HTTP 403)" in str(e.value)
    with pytest.raises(BambooError) as e:
        list(c.results(EnvInfo(str(424242), "Gone", "Production"), iter([25])))
    assert "does not know the results of environment 'Production' (id 424242)" in str(e.value)


def test_wrong_context_path_is_a_404_sentence() -> None:
    sim = BambooSim(token="t", context_path="/bamboo").start()
    try:
        wrong = BambooClient(sim.url.removesuffix("/bamboo"), BambooAuth(token="t"))
        with pytest.raises(BambooError) as e:
            wrong.environments()
        assert "(HTTP 404): check bamboo.url" in str(e.value)
        assert BambooClient(sim.url, BambooAuth(token="t")).environments() == []
    finally:
        sim.stop()


def test_unreachable_server_is_a_sentence() -> None:
    sim = BambooSim().start()
    url = sim.url
    sim.stop()
    c = BambooClient(url, BambooAuth(token="t"), timeout=2, retry=make_retry(total=1, backoff=0))
    with pytest.raises(BambooError) as e:
        c.environments()
    assert str(e.value).startswith(f"cannot reach Bamboo at {url}")
    assert str(e.value).endswith("check bamboo.url and the network")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"Bamboo samples not found at {SAMPLES}")
@pytest.mark.parametrize("name", ["deploy_project_all.devlake-2023.json", "deploy_project_all.faros-2022.json"])
def test_real_project_lists_parse_over_http(sim: BambooSim, name: str) -> None:
    body = json.loads((SAMPLES / name).read_text())
    sim.raw["deploy/project/all"] = body
    envs = client(sim).environments()
    expected = [(int(e["id"]), p["name"], e["name"]) for p in body for e in p["environments"]]
    assert [(int(e.key), e.project, e.name) for e in envs] == expected and expected


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"Bamboo samples not found at {SAMPLES}")
def test_real_results_page_parses_over_http(sim: BambooSim) -> None:
    items = json.loads((SAMPLES / "deploy_environment_results.items.devlake-2023.json").read_text())
    sim.raw["deploy/environment/42/results"] = {"size": 6, "start-index": 0, "max-result": 25, "results": items}
    (page,) = list(client(sim).results(EnvInfo(str(42), "P", "Production"), iter([25])))
    assert [d.result_id for d in page] == [i["id"] for i in items]
