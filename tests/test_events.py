"""When `<prefix>/events` speaks (publisher/events.py), and that the service sends it on the real broker."""

from __future__ import annotations

import json
import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from publisher.events import EVENT, decide
from publisher.friday import FridayDeploy
from publisher.state import SourceState, State
from tests.broker import Broker, Recorder, retained_topics
from tests.factories import BERLIN, at, dep

FRI = date(2026, 11, 6)
TODAY = FRI + timedelta(weeks=3, days=3)


def fd(day: date, rid: int, source: str = "bamboo") -> FridayDeploy:
    return FridayDeploy(day, dep(at(f"{day.isoformat()} 16:42"), at(f"{day.isoformat()} 16:51"), result_id=rid,
                                 source=source))  # fmt: skip


def state(*fridays: FridayDeploy, source: str = "bamboo") -> State:
    best = max(fridays, key=lambda f: f.friday, default=None)
    return State("g", {source: SourceState("fp", best=best, fridays=fridays)})


def test_a_new_friday_deployment_that_resets_the_count_is_one_event() -> None:
    old = state(fd(FRI, 1))
    new_friday = FRI + timedelta(weeks=4)  # 2026-12-04
    new = state(fd(FRI, 1), fd(new_friday, 2))
    (event,) = decide(old, new, tracking_start=None, today=new_friday, first_poll=False)
    assert event.weeks_before == 4 and event.deployment.result_id == 2
    payload = event.payload(datetime(2026, 12, 4, 15, 0, tzinfo=UTC), BERLIN)
    assert payload["event"] == payload["event_type"] == EVENT == "friday_deploy"
    assert payload["at"] == "2026-12-04T16:00:00+01:00" and payload["deployment"]["result_id"] == 2
    assert set(payload["deployment"]) == {"project", "environment", "version", "state", "started", "finished",
                                          "result_id", "url", "source"}  # fmt: skip


def test_no_event_on_the_first_poll_for_a_known_result_or_for_an_older_friday() -> None:
    old = state(fd(FRI, 1))
    later = state(fd(FRI, 1), fd(FRI + timedelta(weeks=3), 2))
    assert decide(State("g"), later, tracking_start=None, today=TODAY, first_poll=True) == []
    assert decide(later, later, tracking_start=None, today=TODAY, first_poll=False) == []
    older = state(fd(FRI, 1), fd(FRI - timedelta(weeks=2), 3))  # history found late: does not reset anything
    assert decide(old, older, tracking_start=None, today=TODAY, first_poll=False) == []
    late_same = state(fd(FRI, 1), fd(FRI, 4))  # same Friday, found a week later: the count stays 3, no news
    assert decide(old, late_same, tracking_start=None, today=TODAY, first_poll=False) == []


def test_a_source_read_well_for_the_first_time_is_history_not_news() -> None:
    old = state(fd(FRI, 1))
    new = State("g", {**old.sources, "github": SourceState("fp", fridays=(fd(FRI + timedelta(weeks=3), 9, "github"),))})
    assert decide(old, new, tracking_start=None, today=TODAY, first_poll=False, quiet={"github"}) == []
    assert len(decide(old, new, tracking_start=None, today=TODAY, first_poll=False)) == 1


def test_two_deploys_on_the_same_new_friday_are_two_events_the_second_one_from_zero() -> None:
    new_friday = FRI + timedelta(weeks=3)
    old = state(fd(FRI, 1))
    new = state(fd(FRI, 1), fd(new_friday, 2), fd(new_friday, 3))
    events = decide(old, new, tracking_start=None, today=new_friday, first_poll=False)
    assert [(e.weeks_before, e.deployment.result_id) for e in events] == [(3, 2), (0, 3)]
    again = state(fd(FRI, 1), fd(new_friday, 2), fd(new_friday, 3), fd(new_friday, 4))  # pushed one by one
    assert [e.weeks_before for e in decide(new, again, tracking_start=None, today=new_friday, first_poll=False)] == [0]


def test_before_tracking_start_nothing_counts_and_after_it_the_count_resets_from_it() -> None:
    start = FRI + timedelta(days=1)
    old = State("g")
    before = state(fd(FRI, 1))
    assert decide(old, before, tracking_start=start, today=TODAY, first_poll=False) == []
    after = state(fd(FRI + timedelta(weeks=3), 2))
    (event,) = decide(old, after, tracking_start=start, today=FRI + timedelta(weeks=3), first_poll=False)
    assert event.weeks_before == 2


# --- end to end: the running service on the real broker --------------------------------------------------------


def _last_friday(today: date) -> date:
    return today - timedelta(days=(today.weekday() - 4) % 7)


def test_the_service_sends_one_event_for_a_new_friday_deploy_and_none_at_start_or_on_restart(
    tmp_path: Path, broker: Broker
) -> None:
    """A file source: the history at start is quiet; a Friday deployment appended while it runs is one event
    (not retained, QoS 1) after the new number; a restart with the same history sends none."""
    from tests.publisher_run import spawn

    tz = "Europe/Berlin"
    today = datetime.now(BERLIN).date()
    friday = _last_friday(today)
    old = friday - timedelta(weeks=5)
    history = tmp_path / "deployments.yaml"

    def entry(day: date, version: str) -> dict[str, str]:
        start = datetime(day.year, day.month, day.day, 16, 0, tzinfo=BERLIN)
        return {"project": "Payments", "environment": "Production", "version": version, "started": start.isoformat(),
                "finished": (start + timedelta(minutes=5)).isoformat(), "state": "SUCCESS"}  # fmt: skip

    history.write_text(yaml.safe_dump([entry(old, "release-1")]))
    cfg = tmp_path / "publisher.yaml"
    cfg.write_text(yaml.safe_dump({
        "timezone": tz, "topic_prefix": "fdc-events", "poll_interval": 2, "state_file": str(tmp_path / "state.json"),
        "file": {"path": str(history)}, "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "homeassistant": {"enabled": False},
    }))  # fmt: skip
    rec = Recorder(broker, ["fdc-events/#"])
    proc = spawn("publisher", "-c", str(cfg))
    try:
        rec.wait_for("fdc-events/weeks", lambda p: p == b"5", timeout=20)
        assert rec.wait_for("fdc-events/record", lambda p: p == b"5", timeout=20) == b"5"
        history.write_text(yaml.safe_dump([entry(old, "release-1"), entry(friday, "release-2-hotfix")]))
        payload = rec.wait_for("fdc-events/events", timeout=20)
        event = json.loads(payload)
        assert event["event"] == event["event_type"] == "friday_deploy"
        assert event["weeks_before"] == 5 and event["deployment"]["version"] == "release-2-hotfix"
        assert rec.last("fdc-events/weeks") == b"0"  # the number went out before the news
        state = json.loads(rec.wait_for("fdc-events/state", lambda p: json.loads(p)["weeks"] == 0))
        assert state["record"] == {"weeks": 5, "from": old.isoformat(), "until": friday.isoformat()}
        assert state["friday_deploys_last_365_days"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    assert "fdc-events/events" not in retained_topics(broker, "fdc-events/#")  # never retained
    assert len(rec.on("fdc-events/events")) == 1
    rec.clear()
    proc = spawn("publisher", "-c", str(cfg))  # restart: the same history is no news
    try:  # three polls (poll_interval 2 s), each one's events would follow its state
        rec.wait_for("fdc-events/state", lambda p: len(rec.on("fdc-events/state")) >= 3, timeout=30)
        assert rec.on("fdc-events/events") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rec.close()
