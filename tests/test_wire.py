"""Every real Bamboo sample in ../shared/bamboo-samples parses, in both wire forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from publisher.deployment import NOT_RUN, RAN, RUNNING
from publisher.fields import WireError
from publisher.sources.bamboo.wire import deployment_state, lifecycle, parse_result
from publisher.times import parse_time as parse_date
from tests.conftest import SAMPLES

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"Bamboo samples not found at {SAMPLES}")


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def parse(item: dict[str, Any]) -> Any:
    return parse_result(item, env_key="7", project="P", environment="Production", base_url="https://b.example")


@needs_samples
def test_devlake_results_parse_newest_first() -> None:
    items = sample("deploy_environment_results.items.devlake-2023.json")
    deps = [parse(i) for i in items]
    assert len(deps) == 6
    assert [d.started for d in deps] == sorted((d.started for d in deps), reverse=True)
    first = deps[0]
    assert (first.result_id, first.version, first.state, first.lifecycle) == (1540117, "release-3", "SUCCESS", RAN)
    assert first.started == datetime.fromtimestamp(1691056147746 / 1000, tz=UTC)
    assert first.url == "https://b.example/deploy/viewDeploymentResult.action?deploymentResultId=1540117"


@needs_samples
@pytest.mark.parametrize(
    ("name", "state", "rid"),
    [
        ("deploy_environment_results.item.faros-2022.json", "UNKNOWN", 2195457),
        ("deploy_environment_results.item.python-script-2018.json", "SUCCESS", 1474564),
    ],
)
def test_single_items_parse(name: str, state: str, rid: int) -> None:
    d = parse(sample(name))
    assert (d.result_id, d.state, d.lifecycle) == (rid, state, RAN)
    assert d.finished is not None and d.finished >= d.started


@needs_samples
def test_webhook_times_parse_with_their_offset() -> None:
    body = sample("webhook_deployment_finished.payload-2024.json")["deployment"]
    started = parse_date(body["startedAt"])
    assert started == datetime(2024, 7, 10, 16, 58, 29, tzinfo=timezone(timedelta(hours=3)))
    assert deployment_state(body["status"]) == "SUCCESS"


@needs_samples
def test_openapi_enums_are_all_understood() -> None:
    spec = sample("openapi_bamboo-12.1.1.deploy-subset.json")
    props = spec["components"]["schemas"]["RestDeploymentResult"]["properties"]
    for v in props["lifeCycleState"]["enum"]:
        lifecycle(v)
    for v in props["deploymentState"]["enum"]:
        deployment_state(v)


def test_iso_and_display_names_form() -> None:
    item = {
        "id": 5,
        "deploymentVersionName": "release-9",
        "deploymentState": "Failed",
        "lifeCycleState": "InProgress",
        "startedDate": "2026-11-06T15:42:10.123Z",
    }
    d = parse(item)
    assert (d.state, d.lifecycle, d.finished) == ("FAILED", RUNNING, None)  # no finishedDate: running
    assert d.started == datetime(2026, 11, 6, 15, 42, 10, 123000, tzinfo=UTC)
    assert d.ran and not d.settled


def test_not_built_and_naive_iso() -> None:
    item = {"id": 6, "deploymentState": "Unknown", "lifeCycleState": "NotBuilt",
            "startedDate": "2026-11-06T15:42:10", "finishedDate": "2026-11-06T15:42:11"}  # fmt: skip
    d = parse(item)
    assert d.lifecycle == NOT_RUN and not d.ran and d.settled
    assert d.started.tzinfo is UTC


@pytest.mark.parametrize(
    "item",
    [
        {"id": 1, "lifeCycleState": "FINISHED"},  # no startedDate
        {"id": 1, "lifeCycleState": "EXPLODED", "startedDate": 1},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": "yesterday"},
        {"lifeCycleState": "FINISHED", "startedDate": 1},
        # hostile shapes: ids that are not positive integers, dates that are no dates, items that are no objects
        {"id": "123", "lifeCycleState": "FINISHED", "startedDate": 1},
        {"id": 3.5, "lifeCycleState": "FINISHED", "startedDate": 1},
        {"id": float("inf"), "lifeCycleState": "FINISHED", "startedDate": 1},  # JSON's 1e400
        {"id": True, "lifeCycleState": "FINISHED", "startedDate": 1},
        {"id": -4, "lifeCycleState": "FINISHED", "startedDate": 1},
        {"id": 2**70, "lifeCycleState": "FINISHED", "startedDate": 1},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": float("inf")},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": float("nan")},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": 1e20},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": "9" * 5000},
        {"id": 1, "lifeCycleState": ["FINISHED"], "startedDate": 1},
        {"id": 1, "lifeCycleState": "FINISHED", "startedDate": {"$date": 1}},
        ["not", "an", "object"],
    ],
)
def test_malformed_results_raise_a_wire_error(item: Any) -> None:
    with pytest.raises(WireError) as e:
        parse(item)
    assert len(str(e.value)) < 200  # a sentence, not a dump of what was sent


def test_year_9999_parses_and_is_left_to_the_plausibility_check() -> None:
    d = parse({"id": 9, "lifeCycleState": "FINISHED", "startedDate": "9999-12-31T23:00:00Z"})
    assert d.started.year == 9999
