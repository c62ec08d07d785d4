"""GitHub refusing, rate-limiting or answering nonsense: each poll ends with one sentence naming GitHub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from common.config import ConfigError
from publisher.config import load
from publisher.http import make_retry
from publisher.reader import PollRules, Relisting, poll
from publisher.source import SourceError
from publisher.sources.github import GitHubClient, GitHubSource
from publisher.state import SourceState
from tests.factories import BERLIN, at
from tests.github_sim import GitHubSim
from tests.sim_http import raw
from tests.test_github import REPO, ran

NOW = at("2026-11-26 09:00")


class Poller:
    def __init__(self, sim: GitHubSim, repositories: tuple[str, ...] = (REPO,), token: str = "gh-token") -> None:
        self.sim, self.mono = sim, 1000.0
        sim.now = lambda: NOW
        client = GitHubClient(sim.url, token, retry=make_retry(total=1, backoff=0), clock=lambda: self.mono)
        self.source = GitHubSource(client, repositories, ("production",))
        self.state = SourceState("fp")
        self.relisting = Relisting(clock=lambda: self.mono)

    def poll(self) -> SourceState:
        rules = PollRules(tz=BERLIN, days=frozenset({4}), tracking_start=None, now=NOW)
        self.state = poll(self.source, self.state, rules, self.relisting).state
        return self.state

    def fails(self) -> str:
        with pytest.raises(SourceError) as e:
            self.poll()
        text = str(e.value)
        assert text.startswith(f"GitHub at {self.sim.url}") and "Traceback" not in text and len(text) < 500
        assert "gh-token" not in text
        return text


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = GitHubSim().start()
    s.add_repo(REPO)
    ran(s, "production", at("2026-11-13 16:42"))
    ran(s, "production", at("2026-11-24 10:00"))
    yield s
    s.stop()


@pytest.fixture
def poller(sim: GitHubSim) -> Iterator[Poller]:
    p = Poller(sim)
    yield p
    p.source.close()


def test_a_wrong_token_says_so(sim: GitHubSim) -> None:
    p = Poller(sim, token="expired")
    assert "refused the token (HTTP 401: Bad credentials): check github.token (or FDC_GITHUB_TOKEN)" in p.fails()


def test_a_token_without_the_deployments_scope_says_which_to_grant(sim: GitHubSim, poller: Poller) -> None:
    sim.scopes = set()
    text = poller.fails()
    assert f"does not let the token read the deployments of {REPO} (HTTP 403: Resource not accessible" in text
    assert "repo_deployment scope" in text and "Deployments: read" in text


def test_an_unknown_repository_and_an_unknown_or_empty_owner(sim: GitHubSim) -> None:
    assert (
        "does not know the repository acme/nope (HTTP 404), or the token cannot see it"
        in Poller(sim, ("acme/nope",)).fails()
    )
    assert "knows no organisation or user 'ghost' (HTTP 404)" in Poller(sim, ("ghost/*",)).fails()
    sim.orgs.add("empty")
    assert "lists no repositories of 'empty' that the token can read" in Poller(sim, ("empty/*",)).fails()


def test_no_matching_environment_is_a_sentence(sim: GitHubSim) -> None:
    p = Poller(sim)
    p.source.patterns = ("prod-eu",)
    assert "has no environment matching github.environments ['prod-eu']" in p.fails()


def test_a_used_up_rate_limit_stops_all_requests_until_the_reset(sim: GitHubSim, poller: Poller) -> None:
    sim.limit = sim.remaining = 3
    sim.reset = NOW.timestamp() + 600
    text = poller.fails()
    assert "rate limit is used up (x-ratelimit-remaining 0)" in text and "no requests to GitHub until" in text
    sent = sum(sim.requests.values())
    assert sent == 3  # the third answer said 0 left: nothing more was sent
    for _ in range(3):  # polls meanwhile cost nothing and say the same
        assert "no requests to GitHub until" in poller.fails()
    assert sum(sim.requests.values()) == sent
    poller.mono += 602
    sim.now = lambda: NOW + timedelta(seconds=602)  # GitHub's hour is over too
    sim.limit = 5000
    assert poller.poll().best is not None


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_rate_limit_honours_retry_after(sim: GitHubSim, poller: Poller, status: int) -> None:
    body = b'{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}'
    sim.fail_next(status, {"retry-after": "120"}, body)
    text = poller.fails()
    assert f"a secondary rate limit was hit (HTTP {status}: You have exceeded a secondary rate limit" in text
    assert "(120 s)" in text and sum(sim.requests.values()) == 1  # not retried
    poller.mono += 60
    poller.fails()
    assert sum(sim.requests.values()) == 1
    poller.mono += 61
    assert poller.poll().best is not None


def test_a_forbidden_answer_without_rate_limit_words_is_a_permission_problem(sim: GitHubSim, poller: Poller) -> None:
    sim.fail_next(403, body=b'{"message":"Resource protected by organization SAML enforcement"}', times=2)
    text = poller.fails()  # the environments API's 403 is skipped (repo_deployment may not read it); the next is not
    assert "does not let the token read the deployments of acme/payments (HTTP 403: Resource protected by" in text


def deployment(**fields: object) -> dict[str, object]:
    d: dict[str, object] = {"id": 5, "sha": "a1b2c3d4e5", "ref": "main", "environment": "production",
                            "created_at": "2026-11-24T09:00:00Z", "updated_at": "2026-11-24T09:10:00Z"}  # fmt: skip
    d.update(fields)
    return d


DEPLOYMENTS = f"/repos/{REPO}/deployments"
HOSTILE = {
    "an id that is text": (DEPLOYMENTS, json.dumps([deployment(id="5")]).encode(), "deployment id '5'"),
    "an id of 1e400": (DEPLOYMENTS, b'[{"id": 1e400}]', "the number 1e400"),
    "an id of 1e400 digits": (DEPLOYMENTS, b'[{"id": 1' + b"0" * 5000 + b"}]", "too many digits"),
    "a date of Infinity": (DEPLOYMENTS, b'[{"id": 5, "created_at": Infinity}]', "the constant Infinity"),
    "a date 'Infinity'": (DEPLOYMENTS, json.dumps([deployment(created_at="Infinity")]).encode(), "not a time"),
    "a list that is a dict": (DEPLOYMENTS, b'{"0": {"id": 5}}', "is dict, not a list"),
    "deep JSON": (DEPLOYMENTS, b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "a sha that is no commit": (DEPLOYMENTS, json.dumps([deployment(sha="<script>")]).encode(), "not a commit id"),
    "an HTML page": (DEPLOYMENTS, b"<!DOCTYPE html><html>Sign in</html>", "HTML page"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_shapes_are_one_sentence(sim: GitHubSim, poller: Poller, case: str) -> None:
    route, body, expected = HOSTILE[case]
    sim.handlers[route] = raw(body)
    assert expected in poller.fails()


def test_hostile_statuses_and_links(sim: GitHubSim, poller: Poller) -> None:
    dep_id = sim.repos[REPO].deployments[-1].id
    route = f"/repos/{REPO}/deployments/{dep_id}/statuses"
    sim.handlers[route] = raw(
        json.dumps([{"id": 9, "state": "exploded", "created_at": "2026-11-24T09:00:00Z"}]).encode()
    )
    assert "unknown state 'exploded'" in poller.fails()
    sim.handlers[route] = raw(b'[{"id": 9, "state": "success", "created_at": 17}]')
    assert "is not an ISO 8601 time" in poller.fails()
    sim.handlers[route] = raw(b"[]", Link='<http://evil.example/steal?page=2>; rel="next"')
    assert "a next-page link to another address" in poller.fails()


def test_config_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cfg(section: str) -> Path:
        path = tmp_path / "p.yaml"
        path.write_text(f"timezone: Europe/Berlin\nstate_file: {tmp_path / 's.json'}\ngithub:\n{section}")
        return path

    monkeypatch.setenv("FDC_GITHUB_TOKEN", "from-env")
    c = load(cfg("  repositories: [acme/payments, acme/*]\n"))
    (section,) = [s for name, s in c.sections if name == "github"]
    assert section["token"] == "from-env" and section["url"] == "https://api.github.com"
    assert section["environments"] == ["production"]
    for bad, words in [
        ("  repositories: ['acme/.*']\n", "neither owner/name nor owner/*"),
        ("  url: https://github.com\n  repositories: [a/b]\n", "https://api.github.com"),
    ]:
        with pytest.raises(ConfigError) as e:
            load(cfg(bad))
        assert words in str(e.value)
    monkeypatch.delenv("FDC_GITHUB_TOKEN")
    with pytest.raises(ConfigError) as e:
        load(cfg("  repositories: [a/b]\n"))
    assert "github: no token" in str(e.value)
