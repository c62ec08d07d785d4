"""The rule that makes the number: examples from CONTRACT.md and properties of the weeks formula."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING
from publisher.friday import (
    FridayDeploy,
    count,
    friday_of,
    later,
    next_local_midnight,
    weekday_numbers,
    weeks_between,
)
from tests.factories import BERLIN, LA, UTC, at, dep

FRI = weekday_numbers(["friday"])
NOW = at("2026-11-26 09:00")


def test_friday_in_los_angeles_is_saturday_in_utc() -> None:
    d = dep(at("2026-11-06 17:00", LA), at("2026-11-06 17:20", LA))  # 01:00-01:20 UTC on Saturday
    assert friday_of(d, LA, FRI, NOW) == date(2026, 11, 6)
    assert friday_of(d, UTC, FRI, NOW) is None


def test_saturday_morning_in_tokyo_is_friday_in_berlin() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    d = dep(at("2026-11-07 07:00", tokyo), at("2026-11-07 07:30", tokyo))  # Friday 23:00 in Berlin
    assert friday_of(d, BERLIN, FRI, NOW) == date(2026, 11, 6)
    assert friday_of(d, tokyo, FRI, NOW) is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-11-05 23:50", "2026-11-06 00:10", date(2026, 11, 6)),  # Thursday night into Friday
        ("2026-11-06 23:50", "2026-11-07 00:10", date(2026, 11, 6)),  # Friday night into Saturday
        ("2026-11-05 22:00", "2026-11-07 02:00", date(2026, 11, 6)),  # spans the whole Friday
        ("2026-11-05 10:00", "2026-11-05 23:59", None),  # all Thursday
        ("2026-11-07 00:00", "2026-11-07 01:00", None),  # all Saturday
        ("2026-11-06 00:00", "2026-11-06 00:00", date(2026, 11, 6)),  # an instant at Friday's first second
        ("2026-10-29 10:00", "2026-11-14 10:00", date(2026, 11, 13)),  # two weeks long: the latest Friday
    ],
)
def test_any_part_on_friday_counts(start: str, end: str, expected: date | None) -> None:
    assert friday_of(dep(at(start), at(end)), BERLIN, FRI, NOW) == expected


def test_running_deployment_counts_up_to_now() -> None:
    d = dep(at("2026-11-05 20:00"))  # Thursday evening, no finish yet
    assert friday_of(d, BERLIN, FRI, at("2026-11-05 23:59")) is None
    assert friday_of(d, BERLIN, FRI, at("2026-11-06 00:01")) == date(2026, 11, 6)
    assert friday_of(d, BERLIN, FRI, at("2026-11-20 12:00")) == date(2026, 11, 20)  # stuck for two weeks


@pytest.mark.parametrize(("lifecycle", "state", "counts"), [
    (RAN, "FAILED", True),
    (RAN, "UNKNOWN", True),
    (RUNNING, "UNKNOWN", True),
    (NOT_RUN, "FAILED", False),
    (WAITING, "UNKNOWN", False),
])  # fmt: skip
def test_which_results_count(lifecycle: str, state: str, counts: bool) -> None:
    d = dep(at("2026-11-06 10:00"), at("2026-11-06 10:05"), lifecycle=lifecycle, state=state)
    assert (friday_of(d, BERLIN, FRI, NOW) is not None) is counts


def test_other_counted_days() -> None:
    weekend = weekday_numbers(["saturday", "sunday"])
    d = dep(at("2026-11-07 23:00"), at("2026-11-08 01:00"))  # Saturday night into Sunday
    assert friday_of(d, BERLIN, weekend, NOW) == date(2026, 11, 8)
    assert friday_of(d, BERLIN, FRI, NOW) is None


def test_weeks_go_up_at_local_midnight_on_fridays_only() -> None:
    friday = date(2026, 11, 6)
    expected = {friday + timedelta(days=k): k // 7 for k in range(0, 22)}
    got = {d: weeks_between(friday, d) for d in expected}
    assert got == expected
    assert weeks_between(friday, date(2026, 11, 12)) == 0  # the Thursday after
    assert weeks_between(friday, date(2026, 11, 13)) == 1  # the next Friday


def test_dst_week_in_berlin() -> None:
    # Summer time ended on Sunday 2026-10-25; that week is 169 hours long, the count still goes up on Friday.
    best = FridayDeploy(date(2026, 10, 23), dep(at("2026-10-23 16:00"), at("2026-10-23 16:10")))
    before = at("2026-10-29 23:59:59")
    after = next_local_midnight(before, BERLIN)
    assert after == at("2026-10-30 00:00")
    assert after.astimezone(UTC) - at("2026-10-23 00:00").astimezone(UTC) == timedelta(days=7, hours=1)
    assert count(best, None, None, before.astimezone(BERLIN).date()).weeks == 0  # type: ignore[union-attr]
    assert count(best, None, None, after.astimezone(BERLIN).date()).weeks == 1  # type: ignore[union-attr]


def test_time_of_day_does_not_matter() -> None:
    early = dep(at("2026-11-06 00:01"), at("2026-11-06 00:02"))
    late = dep(at("2026-11-06 23:58"), at("2026-11-06 23:59"))
    today = date(2026, 11, 26)
    for d in (early, late):
        fri = friday_of(d, BERLIN, FRI, NOW)
        assert fri is not None
        assert count(FridayDeploy(fri, d), None, None, today).weeks == 2  # type: ignore[union-attr]


def test_count_sources() -> None:
    d = dep(at("2026-11-06 10:00"), at("2026-11-06 10:05"))
    best = FridayDeploy(date(2026, 11, 6), d)
    today = date(2026, 11, 26)
    c = count(best, date(2025, 1, 1), None, today)
    assert c is not None and (c.weeks, c.counted_from, c.since, c.deployment) == (2, date(2026, 11, 6), "deploy", d)
    # tracking_start after the last Friday deployment: that deployment is ignored
    c = count(best, date(2025, 1, 1), date(2026, 11, 10), today)
    assert c is not None and (c.weeks, c.since, c.deployment) == (2, "tracking_start", None)
    assert c.counted_from == date(2026, 11, 10)
    # no Friday deployment ever: count from the oldest deployment's start date
    c = count(None, date(2026, 9, 1), None, today)
    assert c is not None and (c.weeks, c.counted_from, c.since) == (12, date(2026, 9, 1), "history_start")
    # nothing at all: no number rather than a made-up one
    assert count(None, None, None, today) is None


def test_future_friday_from_a_skewed_clock_is_zero_not_negative() -> None:
    assert weeks_between(date(2026, 11, 27), date(2026, 11, 26)) == 0


def test_later_picks_the_later_friday_then_the_later_start() -> None:
    a = FridayDeploy(date(2026, 11, 6), dep(at("2026-11-06 10:00"), at("2026-11-06 10:05")))
    b = FridayDeploy(date(2026, 11, 13), dep(at("2026-11-13 09:00"), at("2026-11-13 09:05")))
    c = FridayDeploy(date(2026, 11, 13), dep(at("2026-11-13 11:00"), at("2026-11-13 11:05")))
    assert later(a, b) is b and later(b, a) is b
    assert later(b, c) is c and later(None, a) is a and later(a, None) is a


# ----- properties -----------------------------------------------------------------------------------------
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


@given(dates, st.integers(min_value=0, max_value=5000))
def test_weeks_formula(since: date, days_later: int) -> None:
    assert weeks_between(since, since + timedelta(days=days_later)) == days_later // 7


@given(dates, st.integers(min_value=0, max_value=3000))
def test_weeks_step_only_on_the_counted_weekday(friday: date, k: int) -> None:
    d = friday + timedelta(days=k)
    step = weeks_between(friday, d + timedelta(days=1)) - weeks_between(friday, d)
    assert step == (1 if (d + timedelta(days=1)).weekday() == friday.weekday() else 0)


zones = st.sampled_from([BERLIN, LA, UTC, ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(moments, st.integers(min_value=0, max_value=14 * 24 * 60), zones,
       st.sets(st.integers(min_value=0, max_value=6), min_size=1))  # fmt: skip
def test_friday_of_is_the_latest_counted_day_touched(
    start: datetime, minutes: int, tz: ZoneInfo, days: set[int]
) -> None:
    d = dep(start, start + timedelta(minutes=minutes))
    fri = friday_of(d, tz, frozenset(days), NOW)
    first, last = start.astimezone(tz).date(), (start + timedelta(minutes=minutes)).astimezone(tz).date()
    touched = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    counted = [x for x in touched if x.weekday() in days]
    assert fri == (max(counted) if counted else None)
