"""Checks every source's wire parser applies to what a server sent: ids, and how a bad value is shown.

A value from the network is shown shortened in sentences, never whole: it may be megabytes, or a secret.
"""

from __future__ import annotations

from typing import Any

MAX_ID = 2**63 - 1


class WireError(ValueError):
    """Something a source sent that cannot be understood; the message names the field."""


def shown(value: Any) -> str:
    """`repr` of a value, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def identifier(value: Any, what: str) -> int:
    """Ids are positive integers: strings, floats, booleans and 1e400 are not."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise WireError(f"{what} {shown(value)} is not a positive integer")
    return value


def obj(value: Any, what: str) -> dict[str, Any]:
    """A JSON object, or WireError naming what it was instead."""
    if not isinstance(value, dict):
        raise WireError(f"{what} is {type(value).__name__}, not an object")
    return value


def array(value: Any, what: str) -> list[Any]:
    """A JSON list, or WireError naming what it was instead (a dict where a list belongs, say)."""
    if not isinstance(value, list):
        raise WireError(f"{what} is {type(value).__name__}, not a list")
    return value
