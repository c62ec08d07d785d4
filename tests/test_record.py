"""The record, the runs and the Fridays of the last year (publisher/record.py): the contract's definitions."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from publisher import record as rec
from publisher.friday import FridayDeploy, count
from publisher.record import Record, Run, remember, runs, story
from publisher.state import SourceState, State
from tests.factories import at, dep

FRI = date(2025, 3, 7)  # a Friday


def fd(day: date, rid: int | None = None, source: str = "bamboo") -> FridayDeploy:
    return FridayDeploy(day, dep(at(f"{day.isoformat()} 16:42"), at(f"{day.isoformat()} 16:51"), result_id=rid,
                                 source=source))  # fmt: skip


def test_runs_between_fridays_and_the_current_one() -> None:
    may = FRI + timedelta(weeks=11)
    today = may + timedelta(weeks=3, days=2)
    assert runs([FRI, may], None, today) == (
        Run(FRI, may, 11, False, "deploy"),
        Run(may, today, 3, True, "deploy"),
    )


def test_the_record_is_the_longest_run_and_until_is_null_while_the_current_run_holds_it() -> None:
    may = FRI + timedelta(weeks=11)
    s = story([fd(FRI), fd(may)], None, may + timedelta(weeks=3))
    assert s.record == Record(11, FRI, may)
    assert s.record.to_json() == {"weeks": 11, "from": "2025-03-07", "until": "2025-05-23"}
    later = story([fd(FRI), fd(may)], None, may + timedelta(weeks=12))
    assert later.record == Record(12, may, None) and later.record.to_json()["until"] is None


def test_a_tie_leaves_the_record_with_the_earlier_run() -> None:
    may = FRI + timedelta(weeks=11)
    s = story([fd(FRI), fd(may)], None, may + timedelta(weeks=11, days=6))
    assert s.record == Record(11, FRI, may)


def test_no_run_without_a_friday_deployment_or_tracking_start() -> None:
    """history_start is not a run start: what came before the oldest deployment a source has is unknown."""
    s = story([], None, FRI)
    assert s.runs == () and s.record is None and s.friday_deploys_last_365_days == 0


def test_tracking_start_opens_a_run_and_hides_older_fridays() -> None:
    start = FRI + timedelta(days=10)
    nxt = FRI + timedelta(weeks=6)
    s = story([fd(FRI), fd(nxt)], start, nxt + timedelta(weeks=1))
    assert [r.opened_by for r in s.runs] == ["tracking_start", "deploy"]
    assert s.runs[0] == Run(start, nxt, 4, False, "tracking_start")
    assert s.record == Record(4, start, nxt) and [f.friday for f in s.fridays] == [nxt]
    only = story([], start, start + timedelta(weeks=2))
    assert only.record == Record(2, start, None)


def test_fridays_in_the_last_365_days_are_distinct_dates() -> None:
    today = date(2026, 3, 6)
    year_ago = today - timedelta(days=364)  # still in
    s = story([fd(today), fd(today), fd(today - timedelta(weeks=2)), fd(year_ago), fd(year_ago - timedelta(days=1))],
              None, today)  # fmt: skip
    assert s.friday_deploys_last_365_days == 3


def test_remember_keeps_one_entry_per_result_and_the_latest_friday_of_a_result_read_again() -> None:
    running = fd(FRI, rid=7)
    again = FridayDeploy(FRI + timedelta(days=7), running.deployment)  # read later: ran into the next Friday
    assert remember([running], [again]) == (again,)
    assert remember([again], [running]) == (again,)
    other_source = fd(FRI, rid=7, source="github")  # same id, another source: another result
    assert len(remember([running], [other_source])) == 2


def test_remember_is_bounded_by_dates_oldest_dropped_first() -> None:
    fridays = [fd(FRI + timedelta(weeks=i)) for i in range(rec.MAX_DATES + 20)]
    busy = [fd(fridays[-1].friday) for _ in range(rec.MAX_PER_DATE + 2)]
    kept = remember([], [*fridays, *busy])
    dates = sorted({f.friday for f in kept})
    assert len(dates) == rec.MAX_DATES and dates[-1] == fridays[-1].friday and dates[0] == fridays[20].friday
    assert sum(f.friday == dates[-1] for f in kept) == rec.MAX_PER_DATE
    assert [f.friday for f in kept] == sorted(f.friday for f in kept)  # oldest first


def test_the_state_keeps_the_fridays_strictly() -> None:
    part = SourceState("fp", best=fd(FRI), fridays=(fd(FRI - timedelta(weeks=3)), fd(FRI)))
    state = State("g", {"bamboo": part})
    again = State.from_json(json.loads(json.dumps(state.to_json())))
    assert again.sources["bamboo"].fridays == part.fridays
    bad = state.to_json()
    bad["sources"]["bamboo"]["fridays"] = [{"friday": "2025-13-01", "deployment": {}}]
    for broken in (bad, {**state.to_json(), "sources": {"bamboo": {**state.to_json()["sources"]["bamboo"],
                                                                     "fridays": {"x": 1}}}}):  # fmt: skip
        try:
            State.from_json(broken)
        except (ValueError, KeyError, TypeError):
            continue
        raise AssertionError("a broken fridays list was taken")


def test_a_file_saved_before_fridays_were_kept_still_knows_its_best() -> None:
    best = {"friday": FRI.isoformat(), "deployment": fd(FRI, rid=1).deployment.to_dict()}
    part = SourceState.from_json({"fingerprint": "fp", "best": best})
    assert part.fridays == () and [f.friday for f in State("g", {"b": part}).fridays] == [FRI]


# --- properties -----------------------------------------------------------------------------------------------

day_offsets = st.lists(st.integers(min_value=0, max_value=3000), max_size=30)


def _dates(offsets: list[int]) -> list[date]:
    return [FRI + timedelta(days=o) for o in offsets]


@given(day_offsets, st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_the_record_never_shrinks_as_new_fridays_come(seen: list[int], gaps: list[int]) -> None:
    """Time passing and new Friday deployments (each on or after the latest one) never lower the record."""
    dates = _dates(seen)
    today = max([*dates, FRI])
    before = rec.record(runs(dates, None, today))
    for gap in gaps:
        today += timedelta(days=gap)
        dates.append(today)
        after = rec.record(runs(dates, None, today))
        assert after is not None and (before is None or after.weeks >= before.weeks)
        before = after


@given(day_offsets, st.integers(min_value=0, max_value=400))
def test_older_history_never_shrinks_the_record(seen: list[int], extra_days: int) -> None:
    dates = _dates(seen)
    if not dates:
        return
    today = max(dates) + timedelta(days=extra_days)
    before = rec.record(runs(dates, None, today))
    older = [min(dates) - timedelta(days=d + 1) for d in seen]
    after = rec.record(runs([*dates, *older], None, today))
    assert before is not None and after is not None and after.weeks >= before.weeks


@given(day_offsets, st.integers(min_value=0, max_value=400))
def test_the_current_run_is_the_published_number(seen: list[int], extra_days: int) -> None:
    fridays = [fd(d) for d in _dates(seen)]
    if not fridays:
        return
    today = max(f.friday for f in fridays) + timedelta(days=extra_days)
    best = max(fridays, key=lambda f: f.friday)
    c = count(best, None, None, today)
    s = story(fridays, None, today)
    assert c is not None and c.since == "deploy"
    assert s.runs[-1].current and s.runs[-1].start == c.counted_from and s.runs[-1].weeks == c.weeks
    assert s.record is not None and s.record.weeks >= c.weeks
    assert s.record.weeks == max(r.weeks for r in s.runs)
    assert (s.record.until is None) == (s.record.start == s.runs[-1].start)
