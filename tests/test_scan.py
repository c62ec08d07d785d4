"""Stopping rules for reading one environment newest first: already seen, or older than what matters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from publisher.deployment import WAITING, Deployment
from publisher.friday import weekday_numbers
from publisher.scan import Frontier, Rules, scan
from tests.factories import BERLIN, at, dep

FRI = weekday_numbers(["friday"])
NOW = at("2026-11-26 09:00")


class Pages:
    """Serves a newest-first list in pages and remembers how many pages were asked for."""

    def __init__(self, deps: list[Deployment], size: int = 2) -> None:
        self.deps, self.size, self.served = deps, size, 0

    def __iter__(self) -> Iterator[list[Deployment]]:
        for i in range(0, len(self.deps) + 1, self.size):
            self.served += 1
            page = self.deps[i : i + self.size]
            yield page
            if len(page) < self.size:
                return


def history() -> list[Deployment]:
    """Newest first: Thu 19th, Tue 17th, Fri 13th (the Friday), Wed 11th, Fri 6th, Mon 2nd."""
    return [
        dep(at("2026-11-19 10:00"), at("2026-11-19 10:10"), result_id=60),
        dep(at("2026-11-17 10:00"), at("2026-11-17 10:10"), result_id=50),
        dep(at("2026-11-13 10:00"), at("2026-11-13 10:10"), result_id=40),
        dep(at("2026-11-11 10:00"), at("2026-11-11 10:10"), result_id=30),
        dep(at("2026-11-06 10:00"), at("2026-11-06 10:10"), result_id=20),
        dep(at("2026-11-02 10:00"), at("2026-11-02 10:10"), result_id=10),
    ]


def rules(floor: date | None = None) -> Rules:
    return Rules(tz=BERLIN, days=FRI, now=NOW, floor=floor)


def test_cold_scan_stops_soon_after_the_first_friday_deployment() -> None:
    pages = Pages(history())
    s = scan(pages, rules(), None)
    assert s.best is not None and s.best.deployment.result_id == 40 and s.best.friday == date(2026, 11, 13)
    assert s.frontier == Frontier(60, at("2026-11-19 10:00"))
    assert s.read == 4  # reads up to the first result that started before that Friday
    assert pages.served == 2


def test_no_friday_reads_everything_and_reports_the_oldest_start() -> None:
    deps = [d for d in history() if d.result_id not in (20, 40)]
    s = scan(Pages(deps), rules(), None)
    assert s.best is None and s.read == 4 and s.oldest_start == date(2026, 11, 2)


def test_steady_scan_stops_at_the_frontier() -> None:
    deps = [dep(at("2026-11-20 09:00"), at("2026-11-20 09:05"), result_id=70), *history()]
    pages = Pages(deps)
    s = scan(pages, rules(), Frontier(60, at("2026-11-19 10:00")))
    assert s.read == 1 and s.best is not None and s.best.deployment.result_id == 70
    assert s.frontier == Frontier(70, at("2026-11-20 09:00"))
    assert pages.served == 1


def test_frontier_found_by_start_when_its_result_was_deleted() -> None:
    deps = [d for d in history() if d.result_id != 60]
    s = scan(Pages(deps), rules(), Frontier(60, at("2026-11-19 10:00")))
    assert s.read == 0 and s.frontier == Frontier(60, at("2026-11-19 10:00"))


def test_running_result_stays_above_the_frontier_so_it_is_read_again() -> None:
    running = dep(at("2026-11-26 08:00"), result_id=80)  # still running
    s = scan(Pages([running, *history()]), rules(), Frontier(60, at("2026-11-19 10:00")))
    assert s.frontier == Frontier(60, at("2026-11-19 10:00"))
    queued_then_done = [dep(at("2026-11-26 08:00"), lifecycle=WAITING, result_id=81), *history()]
    s = scan(Pages(queued_then_done), rules(), None)
    assert s.frontier == Frontier(60, at("2026-11-19 10:00"))


def test_floor_from_a_known_best_friday_stops_the_cold_scan() -> None:
    pages = Pages(history(), size=1)
    s = scan(pages, rules(floor=date(2026, 11, 20)), None)
    assert s.read == 1 and s.best is None  # the newest started before the known Friday: nothing older matters
    assert pages.served == 1


def test_deployment_from_thursday_night_into_friday_is_found_before_stopping() -> None:
    deps = [
        dep(at("2026-11-12 23:50"), at("2026-11-13 00:20"), result_id=2),
        dep(at("2026-11-12 10:00"), at("2026-11-12 10:10"), result_id=1),
    ]
    s = scan(Pages(deps, size=1), rules(), None)
    assert s.best is not None and s.best.friday == date(2026, 11, 13) and s.read == 1


def test_duplicates_from_shifted_pages_are_ignored() -> None:
    deps = history()
    shifted = deps[:3] + deps[2:]  # a new deployment arrived between two page requests
    s = scan(Pages(shifted), rules(), None)
    assert s.read == 4
