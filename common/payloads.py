"""Payload codecs of the public contract. Pure functions: bytes in, values out, and back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ONLINE = b"online"
OFFLINE = b"offline"
MAX_WEEKS_PAYLOAD = 64  # bytes; anything longer on `<prefix>/weeks` is rejected


class PayloadError(ValueError):
    """A payload that breaks the contract; the message is one log line that says why."""


@dataclass(frozen=True)
class Cleared:
    """An empty retained payload: somebody cleared the topic, so there is no number to show."""


def encode_weeks(weeks: int) -> bytes:
    """The number as plain ASCII digits, so `mosquitto_sub` users read it as is."""
    if weeks < 0:
        raise ValueError("weeks cannot be negative")
    return str(weeks).encode("ascii")


def decode_weeks(payload: bytes) -> int | Cleared:
    """Accept digits (with whitespace), a JSON number, or a JSON object with an integer `weeks` key."""
    if len(payload) == 0:
        return Cleared()
    if len(payload) > MAX_WEEKS_PAYLOAD:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {MAX_WEEKS_PAYLOAD}-byte limit")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not valid UTF-8") from None
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    try:
        value: Any = json.loads(stripped)
    except ValueError:
        raise PayloadError(f"payload {stripped[:20]!r} is not a whole number of weeks") from None
    if isinstance(value, dict):
        if "weeks" not in value:
            raise PayloadError("JSON object has no 'weeks' key")
        value = value["weeks"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{value!r} is not a whole number of weeks")
    if value < 0:
        raise PayloadError(f"{value} is negative")
    return value


def decode_status(payload: bytes) -> bool | None:
    """`online` → True, `offline` → False, anything else (or cleared) → None."""
    text = payload.strip().lower()
    if text == ONLINE:
        return True
    if text == OFFLINE:
        return False
    return None


def encode_json(obj: Any) -> bytes:
    """Compact, key-stable JSON for retained payloads."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_showing(text: str, value: int | None, stale: bool, at: str, stale_reason: str | None = None) -> bytes:
    """What a display node has lit right now (`<prefix>/displays/<node_id>/showing`): CONTRACT.md's keys plus
    the additive `stale_reason` (`no_broker`, `publisher_offline` or null), so Home Assistant can say why."""
    return encode_json({"text": text, "value": value, "stale": stale, "at": at, "stale_reason": stale_reason})
