"""Brightness commands and their memory: what `<prefix>/displays/<node_id>/brightness/set` accepts, and a small
state file so that a level Home Assistant set survives a restart (or a power cut) of the node.

The file is written atomically (temporary file, fsync, rename, fsync of the folder): after a power cut it
holds either the old level or the new one, never half a file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from common.files import write_atomically
from common.payloads import PayloadError

log = logging.getLogger("fdc.display")

MAX_BRIGHTNESS_PAYLOAD = 64  # bytes


def decode_brightness(payload: bytes) -> int:
    """Digits (with whitespace) or a JSON integer, 0..15; anything else raises PayloadError saying why."""
    if len(payload) > MAX_BRIGHTNESS_PAYLOAD:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {MAX_BRIGHTNESS_PAYLOAD}-byte limit")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("payload is not valid UTF-8") from None
    if text.isascii() and text.isdigit():
        value: Any = int(text)
    else:
        try:
            value = json.loads(text)
        except ValueError:
            raise PayloadError(f"{text[:20]!r} is not a whole number from 0 to 15") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 15:
        raise PayloadError(f"{value!r} is not a whole number from 0 to 15")
    return value


def encode_brightness(level: int) -> bytes:
    return str(level).encode("ascii")


def load_level(path: Path) -> int | None:
    """The remembered level, or None when there is none (no file yet) or it cannot be used (said in the log)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("cannot read the remembered brightness from %s (%s); using display.brightness", path, e)
        return None
    level = data.get("brightness") if isinstance(data, dict) else None
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 15:
        log.warning("%s holds no brightness from 0 to 15; using display.brightness", path)
        return None
    return level


def save_level(path: Path, level: int) -> None:
    """Write `{"brightness": level}` atomically; raises OSError (the caller logs it as a sentence)."""
    write_atomically(path, (json.dumps({"brightness": level}) + "\n").encode("utf-8"))
