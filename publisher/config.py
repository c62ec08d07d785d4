"""The publisher's YAML config: CONTRACT.md's keys exactly, every problem reported with its key path."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol

from common import config as cc
from common.config import MqttSettings
from publisher.friday import WEEKDAYS

log = logging.getLogger("fdc.config")

ENV = {
    "FDC_BAMBOO_TOKEN": ("bamboo", "token"),
    "FDC_BAMBOO_USERNAME": ("bamboo", "username"),
    "FDC_BAMBOO_PASSWORD": ("bamboo", "password"),
    **cc.MQTT_ENV,
}
DEFAULT_STATE_FILE = "~/.local/state/fdc/state.json"


def local_zone_name() -> str:
    """The machine's IANA zone: $TZ, then /etc/localtime's link target, then /etc/timezone, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.readlink("/etc/localtime")
        candidates.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except OSError:
        pass
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    for name in candidates:
        if name:
            try:
                zoneinfo.ZoneInfo(name)
                return name
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


def _days(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise vol.Invalid("expected a list of weekdays, e.g. [friday]")
    out = []
    for v in value:
        name = str(v).strip().lower()
        match = [d for d in WEEKDAYS if d == name or (len(name) >= 3 and d.startswith(name))]
        if len(match) != 1:
            raise vol.Invalid(f"{v!r} is not a weekday: use names like friday or saturday")
        if match[0] not in out:
            out.append(match[0])
    return out


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise vol.Invalid(f"{value!r} is not a date: use YYYY-MM-DD")


def _regexes(value: Any) -> list[str]:
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


def _url(value: Any) -> str:
    if isinstance(value, str):
        u = urlparse(value.strip())
        if u.scheme in ("http", "https") and u.netloc:
            return value.strip().rstrip("/")
    raise vol.Invalid(f"{value!r} is not an http(s) URL like https://bamboo.example.com")


def _verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and Path(value).is_file():
        return value
    raise vol.Invalid(f"{value!r} is neither true/false nor the path of an existing CA bundle")


SCHEMA = vol.Schema(
    {
        vol.Optional("timezone"): lambda v: None if v is None else cc.timezone(v),
        vol.Optional("days", default=["friday"]): _days,
        vol.Optional("tracking_start"): lambda v: None if v is None else _date(v),
        vol.Optional("topic_prefix", default="friday-deploy"): cc.topic_prefix,
        vol.Optional("poll_interval", default=300): cc.duration,
        vol.Optional("state_file", default=DEFAULT_STATE_FILE): cc.text,
        vol.Optional("file"): {
            vol.Required("path"): cc.text,
            vol.Optional("environments", default=["production"]): _regexes,
            vol.Optional("projects", default=[".*"]): _regexes,
        },
        vol.Optional("bamboo"): {
            vol.Required("url"): _url,
            vol.Optional("token"): cc.text,
            vol.Optional("username"): cc.text,
            vol.Optional("password"): cc.text,
            vol.Optional("environments", default=["production"]): _regexes,
            vol.Optional("projects", default=[".*"]): _regexes,
            vol.Optional("verify", default=True): _verify,
            vol.Optional("timeout", default=10): cc.duration,
        },
        vol.Optional("mqtt", default={}): cc.nullable(cc.MQTT_SCHEMA),
        vol.Optional("homeassistant", default={}): cc.nullable(
            {
                vol.Optional("enabled", default=True): bool,
                vol.Optional("discovery_prefix", default="homeassistant"): cc.topic_prefix,
            }
        ),
    }
)


def _cross_checks(c: dict[str, Any]) -> list[str]:
    if "bamboo" in c and "file" in c:
        return ["file: use either bamboo: or file:, not both"]
    if "bamboo" not in c and "file" not in c:
        return ["bamboo: required (or `file:` to read deployments from a JSON/YAML file instead)"]
    if "file" in c:
        return []
    b = c["bamboo"]
    if b.get("token"):
        return []
    if b.get("username") and not b.get("password"):
        return ["bamboo.password: required with bamboo.username (or set FDC_BAMBOO_PASSWORD)"]
    if b.get("password") and not b.get("username"):
        return ["bamboo.username: required with bamboo.password (or set FDC_BAMBOO_USERNAME)"]
    if not b.get("username"):
        return [
            "bamboo: no credentials: set bamboo.token (or FDC_BAMBOO_TOKEN) to a personal access token, "
            "or bamboo.username and bamboo.password"
        ]
    return []


@dataclass(frozen=True)
class PublisherConfig:
    timezone: str
    timezone_from_machine: bool
    days: tuple[str, ...]
    tracking_start: date | None
    topic_prefix: str
    poll_interval: float
    state_file: Path
    source: str  # "bamboo" | "file"
    file_path: Path | None
    bamboo_url: str | None
    bamboo_token: str | None = field(repr=False)
    bamboo_username: str | None
    bamboo_password: str | None = field(repr=False)
    environments: tuple[str, ...]
    projects: tuple[str, ...]
    verify: bool | str
    timeout: float
    mqtt: MqttSettings
    homeassistant: bool
    discovery_prefix: str

    @property
    def secrets(self) -> list[str | None]:
        return [self.bamboo_token, self.bamboo_password, self.mqtt.password]

    def fingerprint(self) -> str:
        """What shapes the number; when it changes, saved state no longer applies."""
        where = self.bamboo_url or str(self.file_path)
        key = [where, self.timezone, self.days, self.tracking_start and self.tracking_start.isoformat()]
        key += [self.environments, self.projects]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def load(path: str | Path) -> PublisherConfig:
    c = cc.load(path, SCHEMA, ENV, _cross_checks)
    b = c.get("bamboo") or {}
    f = c.get("file")
    patterns = f or b
    file_path = None
    if f is not None:  # relative to the config file, so a config and its history can travel together
        file_path = Path(os.path.expanduser(f["path"]))
        file_path = file_path if file_path.is_absolute() else Path(path).parent / file_path
    tz = c.get("timezone")
    ha = c.get("homeassistant") or {}
    return PublisherConfig(
        timezone=tz or local_zone_name(),
        timezone_from_machine=tz is None,
        days=tuple(c["days"]),
        tracking_start=c.get("tracking_start"),
        topic_prefix=c["topic_prefix"],
        poll_interval=c["poll_interval"],
        state_file=Path(os.path.expanduser(c["state_file"])),
        source="file" if f is not None else "bamboo",
        file_path=file_path,
        bamboo_url=b.get("url"),
        bamboo_token=b.get("token"),
        bamboo_username=None if b.get("token") else b.get("username"),
        bamboo_password=None if b.get("token") else b.get("password"),
        environments=tuple(patterns["environments"]),
        projects=tuple(patterns["projects"]),
        verify=b.get("verify", True),
        timeout=b.get("timeout", 10.0),
        mqtt=cc.mqtt_settings(c.get("mqtt"), f"fdc-publisher-{cc.hostname()}"),
        homeassistant=bool(ha.get("enabled", True)),
        discovery_prefix=ha.get("discovery_prefix", "homeassistant"),
    )
