"""What `fdc web`'s page shows, as data. Pure: the frame rows, the node's `Showing` and the publisher's state in,
one JSON-ready dict out, so every sentence on the screen is asserted in a test and the browser only draws.

`<prefix>/state` is read defensively: size-capped, every field type-checked and cut to a length a screen can
show; what is missing or wrong is left off the page, never guessed (a state from before `record` existed simply
shows no record).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from common.payloads import PayloadError
from display_node.node import NO_BROKER, PUBLISHER_OFFLINE, Showing
from display_node.render import FONTS, layout

MAX_STATE = 256 * 1024  # bytes; a state is about 1 KB (with history fields a few KB)
MAX_TEXT = 120  # characters of a project or environment name shown
MAX_BLOCKS = 64
WORDS = "weeks since a Friday deployment"


def blocks_for(value: int | None) -> int:
    """How many 8x8 blocks the page draws: the fewest that show every digit in the LED matrix's biggest font
    (else in any of its fonts), so the page never needs `9+`. "No data" gets two, like the default chain."""
    if value is None:
        return 2
    digits = str(value)
    for wanted in (FONTS[0][0], None):
        for n in range(1, MAX_BLOCKS + 1):
            lay = layout(value, 8 * n, 8)
            if lay.text == digits and (wanted is None or lay.font == wanted):
                return n
    return MAX_BLOCKS


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    clean = "".join(c for c in value.strip() if c.isprintable())
    return clean[:limit] + ("…" if len(clean) > limit else "")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else None


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        return None


def long_day(d: date) -> str:
    """`Friday 6 November 2026`: English like the rest of the page, no locale on the kiosk needed."""
    return f"{d:%A} {d.day} {d:%B %Y}"


def decode_state(payload: bytes) -> dict[str, Any] | None:
    """`<prefix>/state` → the few facts the page shows; None when the topic was cleared. Raises PayloadError
    for what is not a state at all (too big, not UTF-8 JSON, not an object)."""
    if not payload:
        return None
    if len(payload) > MAX_STATE:
        raise PayloadError(f"state of {len(payload)} bytes is over the {MAX_STATE}-byte limit")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PayloadError("state is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("state is not a JSON object")
    out: dict[str, Any] = {
        "since": _text(data.get("since"), 20),
        "counted_from": _day(data.get("counted_from")),
        "last_365": _count(data.get("friday_deploys_last_365_days")),
        "record": None,
        "deploy": None,
    }
    rec = data.get("record")
    if isinstance(rec, dict) and _count(rec.get("weeks")) is not None and _day(rec.get("from")) is not None:
        out["record"] = {"weeks": rec["weeks"], "from": _day(rec["from"]), "until": _day(rec.get("until"))}
    dep = data.get("last_friday_deploy")
    if isinstance(dep, dict) and _text(dep.get("project")) and _text(dep.get("environment")):
        out["deploy"] = {
            "project": _text(dep["project"]),
            "environment": _text(dep["environment"]),
            "version": _text(dep.get("version")),
            "started": _moment(dep.get("started")) or _moment(dep.get("finished")),
        }
    return out


def record_text(state: dict[str, Any] | None) -> str:
    """`Record: 11 weeks, from Friday 7 March 2025 to Friday 23 May 2025`; "" while there is no record."""
    rec = state.get("record") if state else None
    if not rec:
        return ""
    weeks = f"{rec['weeks']} week{'' if rec['weeks'] == 1 else 's'}"
    if rec["until"] is None:
        return f"Record: {weeks}, the current run, since {long_day(rec['from'])}"
    return f"Record: {weeks}, from {long_day(rec['from'])} to {long_day(rec['until'])}"


def deploy_text(state: dict[str, Any] | None) -> str:
    """The deployment that set the count: `Last Friday deployment: Payments → Production, Friday 6 November 2026,
    16:42`; when none is known, what the count runs from."""
    if not state:
        return ""
    dep = state.get("deploy")
    if dep:
        when = dep["started"]
        at = f", {long_day(when)}, {when:%H:%M}" if when is not None else ""
        version = f" ({dep['version']})" if dep["version"] else ""
        return f"Last Friday deployment: {dep['project']} → {dep['environment']}{version}{at}"
    since = state.get("counted_from")
    if since is not None:
        return f"No Friday deployment seen since {long_day(since)}"
    return ""


def stale_text(showing: Showing | None, stale_after: float) -> str:
    if showing is None or not showing.stale:
        return ""
    if showing.stale_reason == NO_BROKER:
        return "Stale: this screen has no connection to the MQTT broker"
    if showing.stale_reason == PUBLISHER_OFFLINE:
        return f"Stale: the publisher has been offline for over {_duration(stale_after)}"
    return "Stale"


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        n, unit = int(seconds // 3600), "hour"
    elif seconds >= 60 and seconds % 60 == 0:
        n, unit = int(seconds // 60), "minute"
    else:
        return f"{seconds:g} s"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def model(
    rows: list[str],
    showing: Showing | None,
    state: dict[str, Any] | None,
    *,
    brightness: int = 15,
    on: bool = True,
    stale_after: float = 1800,
) -> dict[str, Any]:
    """Everything the page draws, JSON-ready. `rows`: the frame as `#`/`.` rows (render.pixels)."""
    last_365 = state.get("last_365") if state else None
    return {
        "rows": rows,
        "text": showing.text if showing else "",
        "value": showing.value if showing else None,
        "stale": bool(showing and showing.stale),
        "stale_reason": showing.stale_reason if showing else None,
        "stale_text": stale_text(showing, stale_after),
        "words": WORDS,
        "record_text": record_text(state),
        "deploy_text": deploy_text(state),
        "year_text": "" if last_365 is None else f"Friday deployments in the last 365 days: {last_365}",
        "brightness": brightness,
        "on": on,
    }
