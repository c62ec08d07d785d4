"""The push core, pure: the body of POST /api/v1/deployments, the fold into the push part, webhook parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.webserver import address
from publisher import hooks, push
from publisher.config import load
from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING
from publisher.state import SourceState, State
from tests.conftest import SHARED
from tests.factories import BERLIN, at

SAMPLES = SHARED / "source-samples"
RULES = push.Rules(BERLIN, frozenset({4}), at("2026-11-26 09:00"), ("production",), (".*",))


def body(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "deploy-1", "project": "Payments", "environment": "Production"}
    base.update(started="2026-11-06T16:42:10+01:00", finished="2026-11-06T16:51:02+01:00")
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


def sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return json.loads(path.read_text())


# --- the body ----------------------------------------------------------------------------------------------


def test_a_full_body_becomes_a_pushed_deployment() -> None:
    d = push.parse_body(body(version="release-42", state="FAILED", url="https://ci.example.com/7"))
    assert (d.source, d.result_id, d.project, d.environment, d.version) == (
        "push", "deploy-1", "Payments", "Production", "release-42")  # fmt: skip
    assert (d.state, d.lifecycle, d.url) == ("FAILED", RAN, "https://ci.example.com/7")
    assert d.started == at("2026-11-06 16:42:10") and d.finished == at("2026-11-06 16:51:02")


def test_epoch_milliseconds_and_no_finish_mean_a_running_deployment() -> None:
    d = push.parse_body(body(started=1_762_443_730_000, finished=None))
    assert d.started == datetime(2025, 11, 6, 15, 42, 10, tzinfo=UTC)
    assert (d.lifecycle, d.finished, d.state) == (RUNNING, None, "UNKNOWN")
    assert push.parse_body(body(state=None)).state == "SUCCESS"  # the default


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([1, 2], "the body must be a JSON object"),
        (body(id=...), "id is missing"),
        (body(id=7), "id must be a string, not a number"),
        (body(id="x" * 300), "id is longer than 256 characters"),
        (body(project=["a"]), "project must be a string, not a list"),
        (body(environment=""), "environment is missing"),
        (body(started=...), "started is missing"),
        (body(started="2026-11-06T16:42:10"), "started has no UTC offset"),
        (body(started="yesterday"), "started: not a time: 'yesterday'"),
        (body(started=1e400), "started: not a time"),
        (body(started=True), "started must be an ISO 8601 time"),
        (body(finished="2026-11-06T10:00:00+01:00"), "finished is before started"),
        (body(state="GREAT"), "state: unknown state 'GREAT'"),
        (body(finishd="x"), "unknown field 'finishd'"),
        (body(version="a\nb"), "version has control characters"),
    ],
)
def test_every_bad_body_is_a_sentence_naming_the_field(value: Any, field: str) -> None:
    with pytest.raises(push.Invalid) as e:
        push.parse_body(value)
    assert field in str(e.value)


def test_implausible_times_are_named() -> None:
    now = at("2026-11-26 09:00")
    assert "started: it started" in str(push.times_problem(push.parse_body(body(started="1999-12-31T23:00:00Z",
                                                                                 finished=None)), now))  # fmt: skip
    future = push.parse_body(body(started="2026-11-26T09:00:00+01:00", finished="2026-11-27T09:00:00+01:00"))
    assert "finished: it finished" in str(push.times_problem(future, now))
    assert push.times_problem(push.parse_body(body()), now) is None


def test_the_made_up_id_is_stable_across_spellings_of_the_start() -> None:
    a = push.stable_id("P", "Production", at("2026-11-06 16:42"))
    assert a == push.stable_id("P", "Production", at("2026-11-06 15:42", UTC))  # type: ignore[arg-type]
    assert a != push.stable_id("P", "Staging", at("2026-11-06 16:42"))
    assert a.startswith("fdc-")


# --- the fold ----------------------------------------------------------------------------------------------


def test_fold_counts_a_friday_deployment_and_updates_the_same_id() -> None:
    part = SourceState("fp")
    running = push.parse_body(body(started="2026-11-20T16:00:00+01:00", finished=None))
    part, verdict = push.fold(part, running, RULES)
    assert verdict == push.Verdict(True)
    assert part.best is not None and part.best.friday == at("2026-11-20 00:00").date()
    assert part.history_start == at("2026-11-20 00:00").date()
    done = push.parse_body(body(started="2026-11-20T16:00:00+01:00", finished="2026-11-20T16:30:00+01:00"))
    part, verdict = push.fold(part, done, RULES)
    assert verdict.counted
    assert [d["finished"] for d in part.memo["deployments"]] == ["2026-11-20T16:30:00+01:00"]  # one result, updated
    assert part.best is not None and part.best.deployment.finished == at("2026-11-20 16:30")


def test_fold_ignores_what_the_patterns_do_not_match_and_keeps_nothing() -> None:
    part, verdict = push.fold(SourceState("fp"), push.parse_body(body(environment="Staging")), RULES)
    assert not verdict.counted and "environment 'Staging' does not match webhooks.environments" in str(verdict.reason)
    assert part == SourceState("fp")
    rules = push.Rules(BERLIN, frozenset({4}), RULES.now, ("production",), ("shop",))
    _, verdict = push.fold(SourceState("fp"), push.parse_body(body()), rules)
    assert verdict.reason == "project 'Payments' does not match webhooks.projects ['shop']"


def test_a_running_push_becomes_a_friday_deployment_at_friday_midnight() -> None:
    thursday = push.Rules(BERLIN, frozenset({4}), at("2026-11-26 23:59"), ("production",), (".*",))
    part, _ = push.fold(SourceState("fp"), push.parse_body(body(started="2026-11-26T22:00:00+01:00", finished=None)),
                        thursday)  # fmt: skip
    assert part.best is None
    assert push.refold(part, thursday) is part  # nothing changed
    friday = push.Rules(BERLIN, frozenset({4}), at("2026-11-27 00:01"), ("production",), (".*",))
    later = push.refold(part, friday)
    assert later.best is not None and later.best.friday == at("2026-11-27 00:00").date()


def test_the_kept_results_are_bounded_and_the_best_survives() -> None:
    part, _ = push.fold(SourceState("fp"), push.parse_body(body(id="the-friday")), RULES)
    for i in range(push.MAX_KEPT + 5):
        start = at("2026-11-02 10:00") + timedelta(minutes=i)
        end = start + timedelta(minutes=1)
        dep = push.parse_body(body(id=f"monday-{i}", started=start.isoformat(), finished=end.isoformat()))
        part, _ = push.fold(part, dep, RULES)
    ids = [d["result_id"] for d in part.memo["deployments"]]
    assert len(ids) == push.MAX_KEPT and "the-friday" not in ids and ids[-1] == f"monday-{push.MAX_KEPT + 4}"
    assert part.best is not None and part.best.deployment.result_id == "the-friday"
    # and the part survives the state file's round trip
    again = State.from_json(json.loads(json.dumps(State("x", {"push": part}).to_json())))
    assert again.sources["push"] == part


def test_a_hand_edited_entry_does_not_break_the_part() -> None:
    part = SourceState("fp", memo={"deployments": [{"result_id": "x", "finished": None}, 7]})
    part, verdict = push.fold(part, push.parse_body(body()), RULES)
    assert verdict.counted and [d["result_id"] for d in part.memo["deployments"]] == ["x", "deploy-1"]
    assert push.refold(part, RULES) is part  # the broken entry is never counted


# --- GitHub and GitLab -------------------------------------------------------------------------------------


def test_githubs_published_test_vector() -> None:
    signature = hooks.github_signature("It's a Secret to Everybody", b"Hello, World!")
    assert signature == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert hooks.github_signature_ok("It's a Secret to Everybody", b"Hello, World!", signature)
    assert not hooks.github_signature_ok("It's a Secret to Everybody", b"Hello, World?", signature)
    assert not hooks.github_signature_ok(None, b"Hello, World!", signature)
    assert not hooks.github_signature_ok("It's a Secret to Everybody", b"Hello, World!", None)


def test_the_github_sample_is_the_deployment_the_poller_would_read() -> None:
    d = hooks.github(sample("github.webhook.deployment_status.success.octokit.excerpt.json")).deployment
    assert (d.source, d.result_id, d.project, d.environment) == ("github", 145988746, "Codertocat/Hello-World",
                                                                  "production")  # fmt: skip
    assert (d.lifecycle, d.state, d.version) == (RAN, "SUCCESS", "master")
    assert d.started == d.finished == datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC)
    assert d.url == "https://github.com/Codertocat/Hello-World/deployments"  # target_url is empty
    running = hooks.github(sample("github.webhook.deployment_status.in_progress.actions.octokit.excerpt.json"))
    assert running.deployment.lifecycle == RUNNING and running.deployment.finished is None
    assert running.deployment.url == "https://github.com/CorsixTH/CorsixTH/runs/4687056418?check_suite_focus=true"


def test_the_gitlab_sample_with_its_own_time_format() -> None:
    hook = hooks.gitlab(sample("gitlab.webhook.deployment-hook.docs-example.json"))
    d = hook.deployment
    assert (d.source, d.result_id, d.project, d.environment) == ("gitlab", 15, "root/test-deployment-webhooks",
                                                                  "staging")  # fmt: skip
    assert d.started == datetime(2021, 4, 28, 19, 50, tzinfo=UTC) and (d.lifecycle, d.state) == (RAN, "SUCCESS")
    assert d.url == "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796" and hook.also == ()
    prod = hooks.gitlab({**sample("gitlab.webhook.deployment-hook.docs-example.json"), "environment": "live",
                         "environment_tier": "production"})  # fmt: skip
    assert prod.also == ("production",)
    _, verdict = push.fold(SourceState("fp"), prod.deployment, RULES, hooks.merge_status, prod.also)
    assert verdict.counted


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"deployment_id": "15"}, "body.deployment_id must be a positive integer"),
        ({"deployment_id": 2**70}, "body.deployment_id must be a positive integer"),
        ({"status": "exploded"}, "status 'exploded' is not a GitLab deployment status"),
        ({"status_changed_at": "soon"}, "body.status_changed_at: not a time"),
        ({"project": None}, "project is missing or not an object"),
    ],
)
def test_bad_gitlab_deliveries_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(push.Invalid) as e:
        hooks.gitlab({**sample("gitlab.webhook.deployment-hook.docs-example.json"), **change})
    assert field in str(e.value)


def _gh(state: str, created: str) -> Any:
    s = sample("github.webhook.deployment_status.success.octokit.excerpt.json")
    s["deployment_status"].update(state=state, created_at=created, log_url=f"https://ci/{state}")
    return hooks.github(s).deployment


def test_statuses_merge_by_the_contracts_rules() -> None:
    running, success = _gh("in_progress", "2026-11-20T15:00:00Z"), _gh("success", "2026-11-21T10:00:00Z")
    failure, inactive = _gh("failure", "2026-11-22T10:00:00Z"), _gh("inactive", "2026-11-23T10:00:00Z")
    assert inactive.lifecycle == WAITING
    done = hooks.merge_status(running, success)
    assert (done.started, done.finished, done.state, done.lifecycle) == (running.started, success.finished,
                                                                         "SUCCESS", RAN)  # fmt: skip
    assert hooks.merge_status(done, failure).state == "SUCCESS"  # the first final status decides
    assert hooks.merge_status(done, inactive) == done  # superseded later: it still ran
    assert hooks.merge_status(success, running).finished == success.finished  # a late in_progress changes nothing
    assert hooks.merge_status(None, inactive) == inactive  # never ran: fold does not count it
    _, verdict = push.fold(SourceState("fp"), inactive, RULES, hooks.merge_status)
    assert not verdict.counted


def test_a_gitlab_cancel_ends_a_run_it_saw_and_counts_nothing_it_did_not() -> None:
    base = sample("gitlab.webhook.deployment-hook.docs-example.json")
    running = hooks.gitlab({**base, "status": "running", "status_changed_at": "2026-11-20 16:00:00 +0100"})
    cancel = hooks.gitlab({**base, "status": "canceled", "status_changed_at": "2026-11-20 16:05:00 +0100"})
    assert running.deployment.lifecycle == RUNNING and cancel.deployment.lifecycle == NOT_RUN
    ended = hooks.merge_status(running.deployment, cancel.deployment)
    assert (ended.lifecycle, ended.state, ended.finished) == (RAN, "FAILED", at("2026-11-20 16:05"))
    assert not hooks.merge_status(None, cancel.deployment).ran


def test_seen_deliveries_are_bounded() -> None:
    seen = hooks.Seen(size=3)
    for d in "abcd":
        seen.add(d)
    assert "a" not in seen and all(d in seen for d in "bcd")


# --- the webhooks: section ---------------------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(f"timezone: Europe/Berlin\nstate_file: {tmp_path / 's.json'}\n{text}")
    return p


def test_the_section_its_environment_variables_and_its_place_in_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FDC_WEBHOOK_TOKEN", "from-env-1")
    monkeypatch.setenv("FDC_GITHUB_WEBHOOK_SECRET", "from-env-2")
    cfg = load(_config(tmp_path, "file: {path: d.yaml}\nwebhooks: {listen: '0.0.0.0:8080', token: in-file}\n"))
    assert cfg.source == "file+push"
    w = cfg.section("push")
    assert (w["token"], w["github_secret"], w["environments"], w["projects"]) == ("from-env-1", "from-env-2",
                                                                                  ["production"], [".*"])  # fmt: skip
    assert "from-env-1" in cfg.secrets and "from-env-2" in cfg.secrets
    assert [s.name for s in cfg.make_sources()] == ["file"]  # the receiver is not polled
    assert address(w["listen"]) == ("0.0.0.0", 8080)
    assert address("[::1]:9000") == ("::1", 9000)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("webhooks: {listen: '127.0.0.1:8080'}\n", "webhooks: no token: set at least one of webhooks.token"),
        ("webhooks: {listen: 'localhost', token: t0k}\n", "is not host:port"),
        ("webhooks: {listen: '127.0.0.1:70000', token: t0k}\n", "is not host:port"),
        ("webhooks: {token: 'a b c'}\n", "has spaces"),
        ("webhooks: {token: t0k, enviroments: [x]}\n", "enviroments"),
    ],
)
def test_bad_sections_are_named(tmp_path: Path, text: str, problem: str) -> None:
    from common.config import ConfigError

    with pytest.raises(ConfigError) as e:
        load(_config(tmp_path, text))
    assert problem in e.value.render()
