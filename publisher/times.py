"""Times as sources send them → aware datetimes. Pure, and strict: a value that is no time raises TimeError.

Epoch milliseconds (Bamboo's real servers), ISO 8601 (Bamboo's OpenAPI document, GitHub, GitLab, pushed
deployments) and the `2024-07-10 16:59:19 +0300` of Bamboo's and GitLab's webhooks. NaN, infinities and
numbers beyond datetime's range are refused here; times that are merely implausible (year 9999, 1970) parse,
and plausible.py keeps them out of the count with a reason.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

MAX_TEXT = 64  # no real timestamp is longer


class TimeError(ValueError):
    """A value that is not a time; the message names it (shortened)."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_epoch_ms(value: float) -> datetime:
    if not math.isfinite(value):
        raise TimeError(f"not a time: {_shown(value)}")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise TimeError(f"not a time: {_shown(value)} (beyond any calendar)") from None


def parse_time(value: Any, naive_tz: Any = UTC) -> datetime:
    """Epoch milliseconds, ISO 8601, or `YYYY-MM-DD HH:MM:SS +ZZZZ`; times without an offset get `naive_tz`."""
    if isinstance(value, bool):
        raise TimeError(f"not a time: {_shown(value)}")
    if isinstance(value, int | float):
        return from_epoch_ms(float(value))
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise TimeError(f"not a time: {_shown(value)}")
    s = value.strip()
    if s.isdigit():
        return from_epoch_ms(float(s))
    s = re.sub(r"\s+([+-]\d{2}):?(\d{2})$", r"\1:\2", s)  # "16:59:19 +0300" → "16:59:19+03:00"
    try:
        moment = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise TimeError(f"not a time: {_shown(value)}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=naive_tz)
