"""Display config: defaults, every problem with its key path, env secrets, and `fdc check-config` on it."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from common.config import ConfigError
from display_node.config import Night, load, looks_like
from fdc.cli import main as fdc


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "display.yaml"
    p.write_text(text)
    return p


def test_defaults_follow_the_contract(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "node_id: berlin-3rd-floor\n"))
    assert cfg.node_id == "berlin-3rd-floor"
    assert cfg.topic_prefix == "friday-deploy"
    assert cfg.stale_after == 1800
    assert cfg.mqtt.host == "localhost" and cfg.mqtt.port == 1883
    assert cfg.mqtt.client_id == "fdc-display-berlin-3rd-floor"
    d = cfg.display
    assert (d.driver, d.cascaded, d.block_orientation, d.rotate, d.reverse_order) == ("max7219", 2, 0, 0, False)
    assert (d.brightness, d.align, d.spi_port, d.spi_device, d.bus_speed_hz) == (8, "right", 0, 0, 8_000_000)
    assert d.persist is True and d.night is None


def test_full_config_with_night_schedule_and_small_stale_after(tmp_path: Path) -> None:
    cfg = load(
        write(
            tmp_path,
            """
node_id: lab
topic_prefix: acme/fdc
stale_after: 0.5
mqtt: {host: broker.lan, port: 8883, username: disp, password: s3cret}
display:
  driver: capture
  cascaded: 4
  block_orientation: -90
  rotate: 2
  reverse_order: true
  brightness: 15
  align: center
  spi: {port: 1, device: 1, bus_speed_hz: 1000000}
  capture_dir: /tmp/frames
  persist: false
  night: {start: "22:30", end: 07:00, brightness: 1}
""",
        )
    )
    assert cfg.stale_after == 0.5
    assert cfg.display.night == Night(time(22, 30), time(7, 0), 1)
    assert cfg.display.block_orientation == -90 and cfg.display.reverse_order
    assert "s3cret" not in repr(cfg)


def test_night_spans_midnight() -> None:
    night = Night(time(22, 0), time(7, 0), None)
    assert night.active(time(23, 59)) and night.active(time(6, 59)) and night.active(time(22, 0))
    assert not night.active(time(7, 0)) and not night.active(time(12, 0))
    assert Night(time(1, 0), time(5, 0), 2).active(time(3, 0))


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
node_id: "has space"
stale_after: -3
display:
  driver: lcd
  cascaded: 0
  block_orientation: 45
  brightness: 16
  alignn: right
  spi: {bus_speed_hz: 123}
  night: {start: "25:00", end: "07:00", brightness: dim}
""",
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    text = info.value.render()
    for key in (
        "node_id",
        "stale_after",
        "display.driver",
        "display.cascaded",
        "display.block_orientation",
        "display.brightness",
        "display.spi.bus_speed_hz",
        "display.night.start",
        "display.night.brightness",
    ):
        assert f"{key}: " in text, key
    assert "display.alignn: unknown key (did you mean 'align'?)" in text


def test_env_password_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FDC_MQTT_PASSWORD", "from-env")
    cfg = load(write(tmp_path, "node_id: a\nmqtt: {username: u, password: from-file}\n"))
    assert cfg.mqtt.password == "from-env"


def test_driver_override_is_checked(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "node_id: a\n"))
    assert cfg.with_driver("dummy").display.driver == "dummy"
    with pytest.raises(ConfigError, match="'oled' is not one of"):
        cfg.with_driver("oled")


def test_looks_like() -> None:
    assert looks_like({"display": {}}) and looks_like({"node_id": "x"}) and looks_like({"stale_after": 5})
    assert not looks_like({"bamboo": {}, "mqtt": {}})


def test_check_config_accepts_and_rejects_display_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "node_id: a\ndisplay: {driver: dummy, cascaded: 4}\n")
    assert fdc(["check-config", str(good)]) == 0
    assert "valid display config" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("display: {cascaded: two, brightness: 99}\n")
    assert fdc(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "display.cascaded: " in err and "display.brightness: " in err


@pytest.mark.parametrize("node_id", ["publisher", "operator", "homeassistant", "office-bridge", "Operator"])
def test_a_role_name_is_not_a_node_id(tmp_path: Path, node_id: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, f"node_id: {node_id}\n"))
    assert info.value.problems == [
        f"node_id: {node_id!r} is the broker user of the {node_id.lower()} role, not a display's: a display logs in "
        "with its node_id, so pick a name of its own (e.g. berlin-3rd-floor)"
    ]


def test_the_topic_prefix_is_not_a_node_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "node_id: friday-deploy\n")
    assert fdc(["check-config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{path}: node_id: 'friday-deploy' is the topic prefix, which names the publisher's Home Assistant "
        "entities: pick another node_id (e.g. berlin-3rd-floor)"
    )
    assert load(write(tmp_path, "node_id: friday-deploy\ntopic_prefix: acme\n")).node_id == "friday-deploy"
