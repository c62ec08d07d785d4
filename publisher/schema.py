"""Config schema pieces every source's section is built from (each source extends them in its own module).

Validators never repeat a value that may be secret: a URL with credentials in it, or a token, is refused by
its key name only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol

from common import config as cc


def regexes(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise vol.Invalid("expected a list of regular expressions")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise vol.Invalid(f"item {i}: expected a regular expression as text")
        try:
            re.compile(v, re.IGNORECASE)
        except re.error as e:
            raise vol.Invalid(f"item {i}: invalid regular expression {v!r} ({e})") from None
    return value


def http_url(example: str, api_suffixes: tuple[str, ...] = ()) -> Any:
    """An http(s) URL without credentials; `api_suffixes` are API paths people paste by mistake."""

    def check(value: Any) -> str:
        u = urlparse(value.strip()) if isinstance(value, str) else None
        if u is None or u.scheme not in ("http", "https") or not u.hostname:
            shown = repr(value) if not isinstance(value, str) or "@" not in value else "the value"
            raise vol.Invalid(f"{shown} is not an http(s) URL like {example}")
        if u.username is not None or u.password is not None:
            raise vol.Invalid(
                "has a username or password in it: remove them from the URL and put the credentials in their "
                "own keys (or FDC_* environment variables)"
            )
        for suffix in api_suffixes:
            if re.search(suffix, u.path):
                raise vol.Invalid(
                    f"ends with an API path: remove it, and give the address you open it at, like {example}"
                )
        return str(value).strip().rstrip("/")

    return check


def secret(value: Any) -> str:
    """A token or password: surrounding whitespace (a pasted newline) is stripped; whitespace inside is refused."""
    text = cc.text(value).strip()
    if not text:
        raise vol.Invalid("is empty")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise vol.Invalid("has spaces, line breaks or control characters inside it: paste the value again")
    return text


def verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and Path(value).is_file():
        return value
    raise vol.Invalid(f"{value!r} is neither true/false nor the path of an existing CA bundle")


PATTERNS = {
    vol.Optional("environments", default=["production"]): regexes,
    vol.Optional("projects", default=[".*"]): regexes,
}

HTTP = {
    vol.Optional("verify", default=True): verify,
    vol.Optional("timeout", default=10): cc.duration,
}
