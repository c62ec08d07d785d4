"""The demo's sample deployment history, relative to today so the demo always shows the same number. Pure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKS_BACK = 3  # the last Friday deployment was three Fridays ago: the demo shows 3


def last_friday(today: date) -> date:
    return today - timedelta(days=(today.weekday() - 4) % 7)


def sample_history(today: date, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Six weeks of production deployments: weekday releases, a failed one, and one emergency Friday fix."""
    friday = last_friday(today) - timedelta(weeks=WEEKS_BACK)
    out: list[dict[str, Any]] = []
    number = 100
    for back in range(42, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() >= 5 or (day.weekday() == 4 and day != friday) or back % 2:
            continue
        number += 1
        hour = 16 if day == friday else 10 + number % 6
        start = datetime.combine(day, time(hour, 42), tz)
        failed = number % 7 == 0
        out.append(
            {
                "project": "Payments" if number % 3 else "Website",
                "environment": "Production",
                "version": f"release-{number}" + ("-hotfix" if day == friday else ""),
                "started": start.isoformat(),
                "finished": (start + timedelta(minutes=9)).isoformat(),
                "state": "FAILED" if failed else "SUCCESS",
            }
        )
    if not any(d["version"].endswith("-hotfix") for d in out):  # the Friday fell on a skipped day: add it
        start = datetime.combine(friday, time(16, 42), tz)
        out.append({"project": "Payments", "environment": "Production", "version": "release-99-hotfix",
                    "started": start.isoformat(), "finished": (start + timedelta(minutes=9)).isoformat(),
                    "state": "SUCCESS"})  # fmt: skip
    return sorted(out, key=lambda d: str(d["started"]), reverse=True)
