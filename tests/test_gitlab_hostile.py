"""No answer from GitLab can break the number: malformed shapes and impossible values over real HTTP each end
the poll with one sentence naming GitLab; the last good number stays. And the config section, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from common.config import ConfigError
from publisher.config import load
from publisher.service import Publisher
from tests.factories import at
from tests.gitlab_sim import GitLabSim
from tests.sim_http import DEEP, Answer, raw

NOW = at("2026-11-26 09:00")


def item(**fields: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"id": 90001, "status": "success", "ref": "main", "sha": "a1b2c3d4e5f6",
                         "created_at": "2026-11-25T09:00:00Z", "updated_at": "2026-11-25T09:10:00Z",
                         "environment": {"id": 5, "name": "production"},
                         "deployable": {"started_at": "2026-11-25T09:01:00Z", "finished_at": "2026-11-25T09:09:00Z",
                                        "web_url": "https://gitlab.example.com/a/b/-/jobs/1"}}  # fmt: skip
    d.update(fields)
    return d


class Counter:
    """A publisher in this process with a good first poll (2 weeks), then GitLab turns hostile."""

    def __init__(self, tmp_path: Path, sim: GitLabSim) -> None:
        self.sim, self.now = sim, NOW
        sim.now = lambda: self.now
        self.pid = sim.add_project("acme/payments")
        self.env = sim.add_env(self.pid, "production")
        sim.deploy(self.env, at("2026-11-06 16:42"), at("2026-11-06 16:51"))
        self.cfg = tmp_path / "p.yaml"
        self.cfg.write_text(
            f"timezone: Europe/Berlin\nstate_file: {tmp_path / 'state.json'}\n"
            f"gitlab: {{url: '{sim.url}', token: glpat-sim, projects: [acme/payments], timeout: 2}}\n"
        )
        c = load(self.cfg)
        self.pub = Publisher(c, c.make_sources(), lambda: self.now)
        assert self.pub.poll() is True and self.weeks() == b"2"
        sim.deploy(self.env, at("2026-11-26 09:02"), at("2026-11-26 09:05"))  # news: the environment is read again
        self.now = at("2026-11-26 09:10")

    @property
    def deployments(self) -> str:
        return f"projects/{self.pid}/deployments"

    def serve(self, answer: Answer) -> None:
        """`answer` for the environment's read, the real thing for the per-project change check."""
        real = self.sim._handle

        def route(h: BaseHTTPRequestHandler) -> None:
            if "environment=" in h.path:
                answer(h)
            else:
                del self.sim.handlers[self.deployments]
                try:
                    real(h)
                finally:
                    self.sim.handlers[self.deployments] = route

        self.sim.handlers[self.deployments] = route

    def weeks(self) -> bytes:
        return dict(self.pub.messages())["friday-deploy/weeks"]

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(dict(self.pub.messages())["friday-deploy/state"])
        return result

    def fails(self) -> str:
        assert self.pub.poll() is False
        assert self.weeks() == b"2"  # the last good number stays
        error = self.state()["error"]
        assert isinstance(error, str) and error.startswith(f"GitLab at {self.sim.url}"), error
        for leak in ("Traceback", "Error(", "Retry(", "HTTPConnectionPool", "urllib3", "glpat-sim"):
            assert leak not in error
        assert len(error) < 400 and "\n" not in error
        return error


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


@pytest.fixture
def counter(tmp_path: Path, sim: GitLabSim) -> Counter:
    return Counter(tmp_path, sim)


def page(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (page(item(id="123")), "deployment id '123' is not a positive integer"),
        (page(item(id=3.5)), "deployment id 3.5 is not a positive integer"),
        (page(item(id=True)), "deployment id True is not a positive integer"),
        (page(item(id=-4)), "deployment id -4 is not a positive integer"),
        (page(item(status={"x": 1})), "is not a deployment status"),
        (page(item(created_at="Friday")), "not a time: 'Friday'"),
        (page(item(updated_at=1e20)), "beyond any calendar"),
        (page(item(environment=[1])), "an environment is list, not an object"),
        (page(item(environment={"id": "7", "name": "production"})), "environment id '7' is not a positive integer"),
        (page(item(deployable=["x"])), "deployable of deployment 90001 is list, not an object"),
        (page(item(deployable={"started_at": "soon"})), "deployable.started_at of deployment 90001: not a time"),
        (page(item(deployable={"web_url": "javascript:alert(1)"})), "is not a web address"),
        (page(item(sha="not a sha")), "is not a commit"),
        (page(item(sha=None, ref="x" * 1000)), "is not a name"),
        (page("a string"), "a deployment is str, not an object"),
        (json.dumps({"0": item()}).encode(), "a dict instead of a list"),
        (page(item()).replace(b'"id": 90001', b'"id": 1e400'), "the number 1e400"),
        (page(item()).replace(b'"2026-11-25T09:00:00Z"', b"Infinity"), "Infinity"),
        (DEEP, "nested"),
        (b"<html><title>Sign in</title></html>", "HTML page"),
    ],
)
def test_malformed_deployments(counter: Counter, body: bytes, expected: str) -> None:
    counter.serve(raw(body, ctype="text/html" if body.startswith(b"<html") else "application/json"))
    error = counter.fails()
    assert "the deployments of environment 'production' of project 'acme/payments'" in error, error
    assert expected in error, error


def test_a_page_that_never_ends(counter: Counter) -> None:
    """A server that ignores `page`: the same full page again and again."""
    items = [item(id=80000 + i, environment={"id": counter.env, "name": "production"}) for i in range(100)]
    counter.serve(raw(page(*items), x_next_page="2"))
    assert "sent the same page of the deployments of environment 'production'" in counter.fails()


def test_a_next_page_that_points_back(counter: Counter) -> None:
    items = [item(id=80000 + i, environment={"id": counter.env, "name": "production"}) for i in range(10)]
    counter.serve(raw(page(*items), x_next_page="1"))
    assert "(a paging bug?)" in counter.fails()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (raw(json.dumps({"id": "12", "path_with_namespace": "acme/payments"}).encode()), "project id '12'"),
        (raw(json.dumps({"id": 12, "path_with_namespace": ["acme"]}).encode()), "is not a name"),
        (raw(json.dumps([1, 2]).encode()), "a project is list, not an object"),
    ],
)
def test_malformed_projects(counter: Counter, answer: Answer, expected: str) -> None:
    counter.sim.handlers["projects/acme%2Fpayments"] = answer
    counter.pub.relisting.done = lambda source: None  # type: ignore[method-assign]
    counter.pub.relisting = type(counter.pub.relisting)()
    counter.pub.state.sources["gitlab"].discovered_at = None
    assert expected in counter.fails()


def test_malformed_environments(counter: Counter) -> None:
    counter.sim.handlers[f"projects/{counter.pid}/environments"] = raw(json.dumps({"id": 1}).encode())
    counter.pub.relisting = type(counter.pub.relisting)()
    counter.pub.state.sources["gitlab"].discovered_at = None
    assert "the environments of project 'acme/payments'" in counter.fails()


# --- the config section, end to end ------------------------------------------------------------------------------
def test_the_state_names_gitlab_and_its_deployment(counter: Counter) -> None:
    assert counter.pub.poll() is True
    st = counter.state()
    last = st["last_friday_deploy"]
    assert (st["source"], last["source"], last["project"], last["environment"]) == (
        "gitlab", "gitlab", "acme/payments", "production",
    )  # fmt: skip
    assert isinstance(last["result_id"], int) and last["url"].startswith(f"{counter.sim.url}/acme/payments/-/jobs/")


def test_config_defaults_secrets_and_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("gitlab: {projects: [acme/payments, acme/*]}\n")
    monkeypatch.setenv("FDC_GITLAB_TOKEN", "glpat-secret\n")
    c = load(cfg)
    section = dict(c.sections)["gitlab"]
    assert (section["url"], section["token"], section["environments"]) == (
        "https://gitlab.com", "glpat-secret", ["production"],
    )  # fmt: skip
    assert "glpat-secret" in c.secrets and not any("glpat-secret" in s for s in c.summaries())
    before = c.source_fingerprints()["gitlab"]
    cfg.write_text("gitlab: {projects: [acme/payments], url: 'https://git.example.com/gitlab'}\n")
    assert load(cfg).source_fingerprints()["gitlab"] != before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gitlab: {projects: ['acme/.*'], token: t}", "gitlab.projects: item 0: 'acme/.*' is neither a project's path"),
        ("gitlab: {projects: [payments], token: t}", "is neither a project's path"),
        ("gitlab: {token: t}", "gitlab.projects"),
        ("gitlab: {projects: [a/b]}", "gitlab: no token: set gitlab.token (or FDC_GITLAB_TOKEN)"),
        ("gitlab: {projects: [a/b], token: t, url: 'https://gitlab.example.com/api/v4'}", "ends with an API path"),
        ("gitlab: {projects: [a/b], token: t, environments: ['(']}", "invalid regular expression"),
    ],
)
def test_config_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    monkeypatch.delenv("FDC_GITLAB_TOKEN", raising=False)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(text + "\n")
    with pytest.raises(ConfigError) as e:
        load(cfg)
    assert any(expected in p for p in e.value.problems), e.value.problems
