"""Config loading both services share: YAML with line numbers, schema errors with key paths, env secrets.

Each service owns its schema (publisher/config.py, display_node/config.py); this module only turns a file
into a checked dict, and voluptuous errors into sentences a person can act on.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from common.topics import valid_prefix


class ConfigError(Exception):
    """Every problem of one config file, each a line `key.path: what is wrong`."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s):" if len(self.problems) > 1 else ""]
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        return "\n".join(lines + [f"  - {p}" for p in self.problems])


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; a syntax error names its line and column, a missing file says so."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except OSError as e:
        raise ConfigError(str(p), [f"cannot be read: {e.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(p), ["is not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(p), [f"{where}invalid YAML ({e.problem or e.context})"]) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(p), [f"invalid YAML ({e})"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(p), ["the top level must be a mapping of keys (e.g. `timezone: Europe/Berlin`)"])
    return data


def _path(path: list[Any]) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out or "(top level)"


def nullable(validator: Any) -> Callable[[Any], Any]:
    """`key:` left empty in YAML means "use the defaults"; errors keep their key paths (unlike vol.Any)."""
    schema = vol.Schema(validator)

    def check(value: Any) -> Any:
        return schema({}) if value is None and isinstance(_unwrap(validator), dict) else schema(value)

    check.inner = validator  # type: ignore[attr-defined]
    return check


def _unwrap(node: Any) -> Any:
    node = getattr(node, "inner", node)
    return node.schema if isinstance(node, vol.Schema) else node


def _known_keys(schema: Any, path: list[Any]) -> list[str]:
    """Keys the schema allows at `path`, for 'did you mean' hints."""
    node = _unwrap(schema)
    for key in path:
        if not isinstance(node, dict):
            return []
        match = [v for k, v in node.items() if str(getattr(k, "schema", k)) == str(key)]
        if not match:
            return []
        node = _unwrap(match[0])
    if not isinstance(node, dict):
        return []
    return [str(getattr(k, "schema", k)) for k in node]


def _describe(err: vol.Invalid, schema: vol.Schema) -> str:
    path = list(err.path)
    msg = err.msg
    if msg == "extra keys not allowed" and path:
        key = str(path[-1])
        hint = difflib.get_close_matches(key, _known_keys(schema, path[:-1]), n=1)
        tail = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{_path(path)}: unknown key{tail}"
    if msg == "required key not provided":
        return f"{_path(path)}: required key is missing"
    if msg.startswith("expected "):
        return f"{_path(path)}: {msg}"
    return f"{_path(path)}: {msg}"


def validate(data: Any, schema: vol.Schema, source: str) -> dict[str, Any]:
    """Check `data` against `schema`, reporting every problem at once, sorted by key path."""
    try:
        result: dict[str, Any] = schema(data)
    except vol.MultipleInvalid as e:
        problems = sorted({_describe(err, schema) for err in e.errors})
        raise ConfigError(source, problems) from None
    except vol.Invalid as e:
        raise ConfigError(source, [_describe(e, schema)]) from None
    return result


def apply_env(
    data: dict[str, Any], mapping: Mapping[str, tuple[str, ...]], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Secrets from the environment win over the file: FDC_MQTT_PASSWORD → mqtt.password, and so on."""
    env = os.environ if environ is None else environ
    for var, path in mapping.items():
        value = env.get(var)
        if not value:
            continue
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = value
    return data


# ----- validators shared by both schemas -------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def duration(value: Any) -> float:
    """Seconds as a positive number, or a string like "90s", "5m", "1h"."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a number of seconds or a duration like '5m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    else:
        raise vol.Invalid(f"{value!r} is not a duration: use seconds (300) or a string like '5m' or '1h'")
    if seconds <= 0:
        raise vol.Invalid("must be more than 0 seconds")
    return seconds


def timezone(value: Any) -> str:
    """An IANA zone name that this machine's tz database (or the tzdata package) knows."""
    if not isinstance(value, str) or not value:
        raise vol.Invalid("expected an IANA timezone name like 'Europe/Berlin'")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        near = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1, cutoff=0.6)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise vol.Invalid(f"unknown timezone {value!r}{hint}: use an IANA name like 'Europe/Berlin'") from None
    return value


def topic_prefix(value: Any) -> str:
    if not isinstance(value, str) or not valid_prefix(value):
        raise vol.Invalid(f"{value!r} is not a usable topic prefix: no '#', '+', leading/trailing or double '/'")
    return value


def existing_file(value: Any) -> str:
    if not isinstance(value, str) or not Path(value).is_file():
        raise vol.Invalid(f"file {value!r} does not exist")
    return value


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise vol.Invalid(f"{value!r} is not a TCP port (1-65535)")
    return value


def text(value: Any) -> str:
    """A non-empty string; numbers (a numeric password in YAML) are taken as their text."""
    if isinstance(value, bool) or value is None:
        raise vol.Invalid("expected text")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise vol.Invalid("expected text")
    return value


TLS_SCHEMA = {
    vol.Optional("ca_file"): existing_file,
    vol.Optional("cert_file"): existing_file,
    vol.Optional("key_file"): existing_file,
}


def keepalive(value: Any) -> int:
    """MQTT keepalive in whole seconds: the broker drops a silent client (power lost) after 1.5 times this."""
    if isinstance(value, bool) or not isinstance(value, int) or not 5 <= value <= 65535:
        raise vol.Invalid(f"{value!r} is not a keepalive: a whole number of seconds from 5 to 65535")
    return value


MQTT_SCHEMA = vol.Schema(
    {
        vol.Optional("host", default="localhost"): text,
        vol.Optional("port", default=1883): port,
        vol.Optional("username"): text,
        vol.Optional("password"): text,
        vol.Optional("client_id"): text,
        vol.Optional("keepalive", default=30): keepalive,
        vol.Optional("tls"): nullable(TLS_SCHEMA),  # present (even empty) turns TLS on
    }
)

MQTT_ENV = {"FDC_MQTT_USERNAME": ("mqtt", "username"), "FDC_MQTT_PASSWORD": ("mqtt", "password")}


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to reach the broker."""

    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = ""
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30  # seconds; the broker sends the last will after ~1.5 times this without a packet

    def __repr__(self) -> str:  # never show the password
        return f"MqttSettings(host={self.host!r}, port={self.port}, username={self.username!r}, tls={self.tls})"

    @property
    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def mqtt_settings(section: Mapping[str, Any] | None, default_client_id: str) -> MqttSettings:
    s = dict(section or {})
    tls = s.get("tls")
    return MqttSettings(
        host=s.get("host", "localhost"),
        port=s.get("port", 1883),
        username=s.get("username"),
        password=s.get("password"),
        client_id=s.get("client_id") or default_client_id,
        tls=tls is not None,
        ca_file=(tls or {}).get("ca_file"),
        cert_file=(tls or {}).get("cert_file"),
        key_file=(tls or {}).get("key_file"),
        keepalive=s.get("keepalive", 30),
    )


def hostname() -> str:
    """This machine's short host name, reduced to the characters topics and client ids allow."""
    name = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]", "-", name) or "node"


def load(
    path: str | Path,
    schema: vol.Schema,
    env: Mapping[str, tuple[str, ...]],
    check: Callable[[dict[str, Any]], list[str]] | None = None,
) -> dict[str, Any]:
    """Read, apply env secrets, validate; `check` adds cross-key rules (e.g. 'token or username')."""
    source = str(path)
    data = apply_env(read_yaml(path), env)
    result = validate(data, schema, source)
    if check is not None and (problems := check(result)):
        raise ConfigError(source, problems)
    return result
