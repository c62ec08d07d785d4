"""Small builders for Deployment values used across the publisher's tests."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

from publisher.deployment import RAN, RUNNING, Deployment

_ids = count(1)
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
UTC = ZoneInfo("UTC")


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    """'2026-11-06 16:42' in `tz` as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def dep(
    started: datetime,
    finished: datetime | None = None,
    *,
    lifecycle: str | None = None,
    state: str = "SUCCESS",
    env: int | str = 1,
    version: str = "release-1",
    result_id: int | None = None,
    source: str = "bamboo",
) -> Deployment:
    return Deployment(
        source=source,
        result_id=result_id if result_id is not None else next(_ids),
        environment_key=str(env),
        project="Payments",
        environment="Production",
        version=version,
        state=state,
        lifecycle=lifecycle or (RAN if finished is not None else RUNNING),
        started=started,
        finished=finished,
    )
