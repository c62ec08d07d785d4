"""Impossible times never count, a wrong clock publishes no new number, hostile pages end the read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from publisher.friday import weekday_numbers
from publisher.plausible import clock_problem, implausible
from publisher.scan import MAX_RESULTS, Rules, Scanner, scan
from publisher.source import SourceError
from tests.factories import BERLIN, at, dep

NOW = at("2026-11-26 09:00")
RULES = Rules(tz=BERLIN, days=weekday_numbers(["friday"]), now=NOW, floor=None)


@pytest.mark.parametrize(
    ("started", "finished", "why"),
    [
        (at("2026-11-26 09:30"), None, "in the future"),  # beyond the 10-minute skew allowance
        (at("9999-12-31 10:00"), None, "in the future"),
        (datetime.fromtimestamp(1_700_000_000 / 1000, tz=UTC), None, "before the year 2000"),  # seconds as ms
        (datetime(1969, 12, 31, tzinfo=UTC), None, "before the year 2000"),  # a negative epoch
        (at("2026-11-20 10:00"), at("2027-03-01 10:00"), "finished 2027-03-01"),
    ],
)
def test_impossible_times_are_named(started: datetime, finished: datetime | None, why: str) -> None:
    reason = implausible(dep(started, finished), NOW)
    assert reason is not None and why in reason


def test_a_little_skew_is_fine() -> None:
    assert implausible(dep(NOW + timedelta(minutes=5)), NOW) is None
    assert implausible(dep(at("2000-01-01 01:00"), at("2000-01-01 02:00")), NOW) is None


def test_a_future_friday_never_becomes_the_best_and_is_reported() -> None:
    bogus = dep(at("2027-01-01 10:00"), at("2027-01-01 10:05"), result_id=99)  # a Friday, next year
    real = dep(at("2026-11-13 16:42"), at("2026-11-13 16:51"), result_id=98)
    s = scan([[bogus, real]], RULES, None)
    assert s.best is not None and s.best.deployment.result_id == 98
    (line,) = s.skipped
    assert line.startswith("skipped result 99 of Payments → Production: it started 2027-01-01")
    assert s.frontier is not None and s.frontier.result_id == 98  # the bogus one is read again next time


def test_epoch_seconds_as_milliseconds_do_not_stop_the_read_or_count() -> None:
    seconds_as_ms = dep(datetime.fromtimestamp(1_763_000_000 / 1000, tz=UTC), result_id=7)  # 1970-01-21
    older_friday = dep(at("2026-11-06 16:00"), at("2026-11-06 16:10"), result_id=6)
    s = scan([[seconds_as_ms], [older_friday]], RULES, None)
    assert s.best is not None and s.best.deployment.result_id == 6 and len(s.skipped) == 1


def test_a_page_that_repeats_stops_the_read() -> None:
    page = [dep(at("2026-11-25 10:00"), at("2026-11-25 10:05"), result_id=i) for i in (3, 2, 1)]
    scanner = Scanner(RULES, None, "Bamboo at http://b", "environment 'Production' of 'Payments'")
    assert scanner.feed(page) is True
    with pytest.raises(
        SourceError, match=r"^Bamboo at http://b sent the same page of environment 'Production' .* twice"
    ):
        scanner.feed(list(page))


def test_endless_pages_stop_the_read() -> None:
    def pages():  # type: ignore[no-untyped-def]
        i = 0
        start = at("2026-11-25 10:00")
        while True:  # new ids forever, each page a minute older, never a Friday, never below any floor
            yield [dep(start - timedelta(seconds=i + k), start - timedelta(seconds=i + k - 1), result_id=i + k)
                   for k in range(1000)]  # fmt: skip
            i += 1000

    with pytest.raises(SourceError, match=f"more than {MAX_RESULTS:,} results"):
        scan(pages(), Rules(tz=BERLIN, days=frozenset({5}), now=NOW, floor=None), None)


def test_clock_checks() -> None:
    assert clock_problem(NOW, None, "Bamboo at http://b") is None
    assert clock_problem(NOW, NOW + timedelta(hours=2), "Bamboo at http://b") is None  # skew, not a wrong clock
    early = clock_problem(datetime(1970, 1, 1, tzinfo=UTC), None, "")
    assert early is not None and "this machine's clock says 1970-01-01 00:00 UTC" in early
    behind = clock_problem(NOW - timedelta(days=40), NOW, "Bamboo at http://b")
    assert behind is not None and "but Bamboo at http://b says it is 2026-11-26" in behind
