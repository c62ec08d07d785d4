"""Where deployments come from: Bamboo, or a file. The service only knows this interface."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from publisher.state import State


class SourceError(Exception):
    """The source could not be read; `str()` is a sentence for people (never a secret)."""


class Source(Protocol):
    name: str  # "bamboo" | "file": the `source` field of `<prefix>/state`
    watch: float | None  # seconds between cheap change checks, or None when only poll_interval applies

    def poll(
        self, state: State, *, tz: ZoneInfo, days: frozenset[int], tracking_start: date | None, now: datetime
    ) -> State:
        """The new state, or SourceError (the caller keeps the old state)."""
        ...

    def changed(self) -> bool:
        """True when a poll now could find something new (a file that was written)."""
        ...

    def close(self) -> None: ...
