"""The display node's config: schema of CONTRACT.md's display keys, plus a night schedule, exit behaviour,
Home Assistant discovery and where a brightness set at runtime is remembered (`state_file`).

`load()` turns a YAML file into a frozen `DisplayConfig`, or raises `ConfigError` listing every problem with
its key path, so `fdc check-config` and `fdc display` report the same sentences.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

import voluptuous as vol

from common.config import (
    MQTT_ENV,
    MQTT_SCHEMA,
    ConfigError,
    MqttSettings,
    duration,
    hostname,
    mqtt_settings,
    nullable,
    read_yaml,
    text,
    topic_prefix,
)
from common.config import load as load_file
from common.topics import DEFAULT_PREFIX, NODE_ID_RE
from common.topics import valid_prefix as topic_prefix_ok
from common.webserver import listen

DRIVERS = ("max7219", "terminal", "capture", "gif", "pygame", "dummy", "awtrix")
BUS_SPEEDS = tuple(int(mhz * 1_000_000) for mhz in (0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 50, 52))
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _int_in(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise vol.Invalid(f"{value!r} is not a whole number from {low} to {high}")
        return value

    return check


def _one_of(*choices: Any) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise vol.Invalid(f"{value!r} is not one of {', '.join(str(c) for c in choices)}")
        return value

    return check


# The broker's other users (mosquitto/make-passwords.sh): a display node logs in with its node_id as user name,
# so a node named like one of them would get (or lose) that role's rights.
ROLE_NAMES = ("publisher", "operator", "homeassistant", "office-bridge")


def _node_id(value: Any) -> str:
    if not isinstance(value, str) or not NODE_ID_RE.match(value):
        raise vol.Invalid(f"{value!r} is not a node id: use letters, digits, '-' and '_' only (e.g. berlin-3rd-floor)")
    if value.lower() in ROLE_NAMES:
        raise vol.Invalid(_role_sentence(value))
    return value


def node_id_problem(node_id: str, prefix: str) -> str | None:
    """The topic prefix names the publisher's Home Assistant entities (homeassistant/+/<prefix>/…), so a node
    with that name would collide with them; the same for a node_id from the host name."""
    if node_id.lower() in ROLE_NAMES:
        return f"node_id: {_role_sentence(node_id)}"
    if node_id.lower() == prefix.replace("/", "_").lower():
        return (
            f"node_id: {node_id!r} is the topic prefix, which names the publisher's Home Assistant entities: "
            "pick another node_id (e.g. berlin-3rd-floor)"
        )
    return None


def _role_sentence(value: str) -> str:
    return (
        f"{value!r} is the broker user of the {value.lower()} role, not a display's: a display logs in with its "
        "node_id, so pick a name of its own (e.g. berlin-3rd-floor)"
    )


def _clock(value: Any) -> time:
    """ "22:00" → time(22, 0). YAML 1.1 reads an unquoted 22:00 as the number 1320 (minutes), so accept that too."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str) and (m := _CLOCK.match(value.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    raise vol.Invalid(f'{value!r} is not a time of day: write it as "HH:MM" in quotes, e.g. "22:00"')


def _night_level(value: Any) -> int | None:
    if value is False or (isinstance(value, str) and value.lower() == "off"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 15:
        raise vol.Invalid(f"{value!r} is neither 'off' nor a brightness from 0 to 15")
    return value


def _bus_speed(value: Any) -> int:
    if isinstance(value, bool) or value not in BUS_SPEEDS:
        raise vol.Invalid(f"{value!r} is not a bus speed luma supports (e.g. 1000000, 4000000, 8000000)")
    return int(value)


NIGHT_SCHEMA = {
    vol.Required("start"): _clock,
    vol.Required("end"): _clock,
    vol.Optional("brightness", default="off"): _night_level,
}


def _awtrix_prefix(value: Any) -> str:
    """The clock's MQTT prefix (its web interface, MQTT settings): one or more plain topic levels."""
    if not isinstance(value, str) or not topic_prefix_ok(value):
        raise vol.Invalid(f"{value!r} is not an MQTT prefix like awtrix_1a2b3c (no wildcards, no empty levels)")
    return value


def _app_name(value: Any) -> str:
    if not isinstance(value, str) or not NODE_ID_RE.match(value):
        raise vol.Invalid(f"{value!r} is not an app name: letters, digits, '-' and '_' only (e.g. fdc)")
    return value


AWTRIX_SCHEMA = {
    vol.Required("prefix"): _awtrix_prefix,
    vol.Optional("app", default="fdc"): _app_name,
    vol.Optional("icon"): vol.Any(None, text),  # an icon id or file name on the clock; default: a drawn one
    vol.Optional("lifetime", default=120): _int_in(10, 86400),
}

DISPLAY_SCHEMA = {
    vol.Optional("driver", default="max7219"): _one_of(*DRIVERS),
    vol.Optional("cascaded", default=2): _int_in(1, 64),
    vol.Optional("block_orientation", default=0): _one_of(0, 90, -90, 180),
    vol.Optional("rotate", default=0): _int_in(0, 3),
    vol.Optional("reverse_order", default=False): bool,
    vol.Optional("brightness", default=8): _int_in(0, 15),
    vol.Optional("align", default="right"): _one_of("right", "center"),
    vol.Optional("spi", default={}): {
        vol.Optional("port", default=0): _int_in(0, 9),
        vol.Optional("device", default=0): _int_in(0, 9),
        vol.Optional("bus_speed_hz", default=8_000_000): _bus_speed,
    },
    vol.Optional("capture_dir", default="./frames"): str,
    vol.Optional("persist", default=True): bool,
    vol.Optional("night"): vol.Any(None, NIGHT_SCHEMA),
    vol.Optional("awtrix"): nullable(AWTRIX_SCHEMA),
}


WEB_SCHEMA = {vol.Optional("listen", default="0.0.0.0:8090"): listen}

_NODE_KEYS: dict[Any, Any] = {
    vol.Optional("node_id"): _node_id,
    vol.Optional("topic_prefix", default=DEFAULT_PREFIX): topic_prefix,
    vol.Optional("stale_after", default=1800): duration,
    vol.Optional("mqtt", default={}): MQTT_SCHEMA,
    vol.Optional("state_file"): text,
    vol.Optional("area"): text,  # Home Assistant's suggested_area for this node's device
    vol.Optional("homeassistant", default={}): nullable(
        {
            vol.Optional("enabled", default=True): bool,
            vol.Optional("discovery_prefix", default="homeassistant"): topic_prefix,
        }
    ),
}
SCHEMA = vol.Schema({**_NODE_KEYS, vol.Optional("display", default={}): DISPLAY_SCHEMA})
# `fdc web`: the same node keys, a `web:` section and no `display:` (the page draws as many blocks as it needs)
WEB_NODE_SCHEMA = vol.Schema({**_NODE_KEYS, vol.Required("web"): nullable(WEB_SCHEMA)})


def default_state_file(node_id: str, environ: dict[str, str] | None = None) -> Path:
    """Where the node remembers the brightness Home Assistant set: systemd's StateDirectory= when the unit
    has one (the shipped unit does: /var/lib/fdc, writable even with ProtectSystem=strict), else
    ~/.local/state/fdc/. One file per node_id, so several nodes on one machine keep their own."""
    env = os.environ if environ is None else environ
    base = env.get("STATE_DIRECTORY", "").split(":")[0]
    folder = Path(base) if base else Path(os.path.expanduser("~/.local/state/fdc"))
    return folder / f"display-{node_id}.json"


@dataclass(frozen=True)
class Night:
    """Hours when the matrix is off (`brightness` None) or dimmed; `end` before `start` spans midnight."""

    start: time
    end: time
    brightness: int | None

    def active(self, now: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True)
class DisplaySettings:
    """The `display:` section: which device and how the 8x8 blocks are chained and mounted."""

    driver: str = "max7219"
    cascaded: int = 2
    block_orientation: int = 0
    rotate: int = 0
    reverse_order: bool = False
    brightness: int = 8
    align: str = "right"
    spi_port: int = 0
    spi_device: int = 0
    bus_speed_hz: int = 8_000_000
    capture_dir: Path = Path("frames")
    persist: bool = True
    night: Night | None = None
    awtrix: Awtrix | None = None  # the `awtrix` driver's clock


@dataclass(frozen=True)
class Awtrix:
    """An AWTRIX 3 clock on the same broker: its MQTT prefix, the custom app's name, its icon and lifetime."""

    prefix: str
    app: str = "fdc"
    icon: str | None = None
    lifetime: int = 120


@dataclass(frozen=True)
class DisplayConfig:
    """Everything one display node needs; `mqtt` never shows its password in a repr."""

    node_id: str
    topic_prefix: str = DEFAULT_PREFIX
    stale_after: float = 1800.0
    mqtt: MqttSettings = dataclasses.field(default_factory=MqttSettings)
    display: DisplaySettings = dataclasses.field(default_factory=DisplaySettings)
    state_file: Path | None = None  # None: brightness changes are not remembered (tests); load() always sets one
    homeassistant: bool = True
    discovery_prefix: str = "homeassistant"
    area: str | None = None  # the area Home Assistant puts this node's device in when it first discovers it
    web_listen: str | None = None  # `fdc web`: where the page is served (host:port); None for `fdc display`

    def with_driver(self, driver: str) -> DisplayConfig:
        """The `--driver` override; an unknown name is a usage error like a bad `display.driver`."""
        if driver not in DRIVERS:
            raise ConfigError("--driver", [f"{driver!r} is not one of {', '.join(DRIVERS)}"])
        if driver == "awtrix" and self.display.awtrix is None:
            raise ConfigError("--driver", [AWTRIX_NEEDED])
        return dataclasses.replace(self, display=dataclasses.replace(self.display, driver=driver))


def looks_like(data: Any) -> bool:
    """True for a display config (rather than a publisher one), so `fdc check-config` picks this schema."""
    return isinstance(data, dict) and any(k in data for k in ("display", "node_id", "stale_after", "web"))


AWTRIX_NEEDED = "display.awtrix: the awtrix driver needs the clock's MQTT prefix, e.g. awtrix: {prefix: awtrix_1a2b3c}"


def from_dict(data: dict[str, Any]) -> DisplayConfig:
    """Build the config from an already validated dict (the schema filled in every default)."""
    node_id = data.get("node_id") or hostname()
    web = data.get("web")
    # `fdc web` has no display section: full brightness (the page dims its LEDs with it), the number centred
    d = data["display"] if web is None else vol.Schema(DISPLAY_SCHEMA)({"brightness": 15, "align": "center"})
    aw = d.get("awtrix")
    night = d.get("night")
    ha = data.get("homeassistant") or {}
    state_file = data.get("state_file")
    return DisplayConfig(
        node_id=node_id,
        topic_prefix=data["topic_prefix"],
        stale_after=data["stale_after"],
        mqtt=mqtt_settings(data["mqtt"], f"fdc-display-{node_id}"),
        display=DisplaySettings(
            driver=d["driver"] if web is None else "web",
            cascaded=d["cascaded"],
            block_orientation=d["block_orientation"],
            rotate=d["rotate"],
            reverse_order=d["reverse_order"],
            brightness=d["brightness"],
            align=d["align"],
            spi_port=d["spi"]["port"],
            spi_device=d["spi"]["device"],
            bus_speed_hz=d["spi"]["bus_speed_hz"],
            capture_dir=Path(d["capture_dir"]),
            persist=d["persist"],
            night=Night(night["start"], night["end"], night["brightness"]) if night else None,
            awtrix=Awtrix(aw["prefix"], aw["app"], aw.get("icon"), aw["lifetime"]) if aw else None,
        ),
        state_file=Path(os.path.expanduser(state_file)) if state_file else default_state_file(node_id),
        homeassistant=bool(ha.get("enabled", True)),
        discovery_prefix=ha.get("discovery_prefix", "homeassistant"),
        area=data.get("area"),
        web_listen=web["listen"] if web is not None else None,
    )


def load(path: str | Path) -> DisplayConfig:
    """Read and check a display config (or `fdc web`'s, which has a `web:` section); raises ConfigError naming
    every bad key."""
    raw = read_yaml(path)
    web = isinstance(raw, dict) and "web" in raw
    if web and "display" in raw:
        raise ConfigError(str(path), ["display: a web node (web:) has no display section: remove one of them"])
    config = from_dict(load_file(path, WEB_NODE_SCHEMA if web else SCHEMA, MQTT_ENV))
    if config.display.driver == "awtrix" and config.display.awtrix is None:
        raise ConfigError(str(path), [AWTRIX_NEEDED])
    problem = node_id_problem(config.node_id, config.topic_prefix)
    if problem is not None:  # also a node_id taken from the host name
        raise ConfigError(str(path), [problem])
    return config
