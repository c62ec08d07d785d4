"""Pushed deployments and `<prefix>/events`: a pushed Friday deployment that resets the count is news at once;
the same id again, or an older Friday, is not. The real receiver over HTTP beside the real broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Broker
from tests.test_receiver import Running, body, serve

EVENTS = "friday-deploy/events"


@pytest.fixture
def running(tmp_path: Path, broker: Broker) -> Iterator[Running]:
    yield from serve(tmp_path, broker)


def events(r: Running) -> list[dict[str, Any]]:
    return [json.loads(p) for p in r.rec.payloads(EVENTS)]


def test_pushed_friday_deploys_make_events_once(running: Running) -> None:
    r = running
    assert r.push(body(3)).json()["counted"] is True
    first = json.loads(r.rec.wait_for(EVENTS, timeout=10))
    assert first["event_type"] == "friday_deploy" and first["weeks_before"] is None  # there was no number before
    assert first["deployment"]["result_id"] == "ci-3" and first["deployment"]["source"] == "push"
    r.rec.wait_for("friday-deploy/record", lambda p: p == b"3")

    assert r.push(body(0, id="ci-0")).json() == {"counted": True, "weeks": 0}
    r.rec.wait_for(EVENTS, lambda p: json.loads(p)["deployment"]["result_id"] == "ci-0")
    assert events(r)[-1]["weeks_before"] == 3
    state = json.loads(r.rec.wait_for("friday-deploy/state", lambda p: json.loads(p)["weeks"] == 0))
    assert state["record"]["weeks"] == 3 and state["record"]["until"] is not None
    assert state["friday_deploys_last_365_days"] == 2

    assert r.push(body(0, id="ci-0")).json()["counted"] is True  # the same result again: no news
    assert r.push(body(5, id="ci-5")).json()["counted"] is True  # an older Friday: the count stays 0
    # each push publishes state before its events: once the last push's state is here, any event would be too
    n = len(r.rec.payloads("friday-deploy/state"))
    assert r.push(body(5, id="ci-5")).json()["counted"] is True
    r.rec.wait_for("friday-deploy/state", lambda p: len(r.rec.payloads("friday-deploy/state")) > n)
    assert [e["deployment"]["result_id"] for e in events(r)] == ["ci-3", "ci-0"]
    saved = json.loads(r.state_file.read_text())
    assert {f["deployment"]["result_id"] for f in saved["sources"]["push"]["fridays"]} == {"ci-0", "ci-3", "ci-5"}
