"""The publisher's YAML config: CONTRACT.md's keys exactly, every problem reported with its key path.

The top-level keys are the publisher's own; each source's section (`bamboo:`, `file:`, …) and its secret
environment variables come from that source's registration (publisher/source.py), so a new source needs
no change here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import voluptuous as vol

from common import config as cc
from common.config import MqttSettings
from publisher.friday import WEEKDAYS
from publisher.source import BuildContext, Source, SourceSpec, specs

log = logging.getLogger("fdc.config")

DEFAULT_STATE_FILE = "~/.local/state/fdc/state.json"
UNAMBIGUOUS_SHORT_ZONES = {"UTC", "GMT", "UCT", "Zulu", "Universal", "Greenwich"}


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


def schema() -> vol.Schema:
    """The publisher's own keys plus every registered source's section."""
    base: dict[Any, Any] = {
        vol.Optional("timezone"): lambda v: None if v is None else cc.timezone(v),
        vol.Optional("days", default=["friday"]): _days,
        vol.Optional("tracking_start"): lambda v: None if v is None else _date(v),
        vol.Optional("topic_prefix", default="friday-deploy"): cc.topic_prefix,
        vol.Optional("poll_interval", default=300): cc.duration,
        vol.Optional("state_file", default=DEFAULT_STATE_FILE): cc.text,
        vol.Optional("mqtt", default={}): cc.nullable(cc.MQTT_SCHEMA),
        vol.Optional("homeassistant", default={}): cc.nullable(
            {
                vol.Optional("enabled", default=True): bool,
                vol.Optional("discovery_prefix", default="homeassistant"): cc.topic_prefix,
            }
        ),
    }
    for spec in specs():
        base[vol.Optional(spec.key)] = spec.schema
    return vol.Schema(base)


def _cross_checks(c: dict[str, Any]) -> list[str]:
    present = [s for s in specs() if s.key in c]
    if not present:
        names = ", ".join(f"`{s.key}:`" for s in specs())
        return [f"no source configured: add at least one of {names} (e.g. `bamboo:` with its url and token)"]
    problems: list[str] = []
    for spec in present:
        problems += spec.check(c[spec.key])
    return problems


def _warnings(c: dict[str, Any], state_file: Path) -> list[str]:
    """Likely mistakes that still make a valid config (check-config prints them, the service logs them)."""
    out = []
    tz = c.get("timezone")
    if tz and "/" not in tz and tz not in UNAMBIGUOUS_SHORT_ZONES:
        out.append(
            f"timezone: {tz!r} is an abbreviation or a fixed offset (no daylight saving, or ambiguous): "
            "use a city name like 'Europe/Berlin' or 'America/New_York'"
        )
    folder = state_file.parent
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        out.append(
            f"state_file: the folder {folder} cannot be created or written by this user: the number would "
            "be rebuilt from scratch on every start; choose a folder this user can write"
        )
    return out


@dataclass(frozen=True)
class PublisherConfig:
    timezone: str
    timezone_from_machine: bool
    days: tuple[str, ...]
    tracking_start: date | None
    topic_prefix: str
    poll_interval: float
    state_file: Path
    config_dir: Path
    sections: tuple[tuple[str, Mapping[str, Any]], ...] = field(repr=False)  # (source name, its section), in order
    mqtt: MqttSettings
    homeassistant: bool
    discovery_prefix: str
    warnings: tuple[str, ...] = ()

    def _specs(self) -> list[tuple[SourceSpec, Mapping[str, Any]]]:
        by_name = {s.name: s for s in specs()}
        return [(by_name[name], section) for name, section in self.sections]

    def section(self, name: str) -> Mapping[str, Any]:
        """A configured source's validated section (KeyError when that source is not configured)."""
        return dict(self.sections)[name]

    @property
    def source(self) -> str:
        """`<prefix>/state`'s `source`: the configured sources' names joined by `+`."""
        return "+".join(name for name, _ in self.sections)

    @property
    def timeout(self) -> float:
        return max((float(s.get("timeout", 10.0)) for _, s in self.sections), default=10.0)

    @property
    def secrets(self) -> list[str | None]:
        out: list[str | None] = [self.mqtt.password]
        for spec, section in self._specs():
            out += spec.secrets(section)
        return out

    def fingerprint(self) -> str:
        """What shapes every source's answer alike; when it changes, no saved state applies."""
        return _hash([self.timezone, list(self.days), self.tracking_start and self.tracking_start.isoformat()])

    def source_fingerprints(self) -> dict[str, str]:
        """Per source, the keys that shape its saved part: changing them rebuilds only that source."""
        return {spec.name: _hash([spec.name, *spec.fingerprint(section)]) for spec, section in self._specs()}

    def legacy_fingerprint(self) -> tuple[str, str] | None:
        """(source, fingerprint) as the one-source format 1 of the state file had it, to carry such a file over."""
        if len(self.sections) != 1:
            return None
        ((spec, s),) = self._specs()
        if spec.legacy_where is None:
            return None
        where = spec.legacy_where(s, self._context())
        key = [where, self.timezone, list(self.days), self.tracking_start and self.tracking_start.isoformat()]
        key += [list(s["environments"]), list(s["projects"])]
        return spec.name, hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    def web_url(self) -> str | None:
        """The first configured source's web UI that is known (in `source` order), for Home Assistant's device."""
        return next((url for spec, section in self._specs() if (url := spec.web_url(section))), None)

    def summaries(self) -> list[str]:
        return [spec.summary(section) or spec.name for spec, section in self._specs()]

    def _context(self) -> BuildContext:
        return BuildContext(self.config_dir, zoneinfo.ZoneInfo(self.timezone))

    def make_sources(self) -> list[Source]:
        return [spec.build(section, self._context()) for spec, section in self._specs() if spec.polled]


def _hash(key: list[Any]) -> str:
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:16]


def load(path: str | Path) -> PublisherConfig:
    source = str(path)
    data = cc.read_yaml(path)
    env: dict[str, tuple[str, ...]] = dict(cc.MQTT_ENV)
    for spec in specs():  # a source's secrets from the environment, for the sources this file configures
        if spec.key in data:
            env.update(spec.env)
    c = cc.validate(cc.apply_env(data, env), schema(), source)
    if problems := _cross_checks(c):
        raise cc.ConfigError(source, problems)
    tz = c.get("timezone")
    ha = c.get("homeassistant") or {}
    state_file = Path(os.path.expanduser(c["state_file"]))
    return PublisherConfig(
        timezone=tz or local_zone_name(),
        timezone_from_machine=tz is None,
        days=tuple(c["days"]),
        tracking_start=c.get("tracking_start"),
        topic_prefix=c["topic_prefix"],
        poll_interval=c["poll_interval"],
        state_file=state_file,
        config_dir=Path(path).parent,
        sections=tuple((s.name, c[s.key]) for s in specs() if s.key in c),
        mqtt=cc.mqtt_settings(c.get("mqtt"), f"fdc-publisher-{cc.hostname()}"),
        homeassistant=bool(ha.get("enabled", True)),
        discovery_prefix=ha.get("discovery_prefix", "homeassistant"),
        warnings=tuple(_warnings(c, state_file)),
    )
