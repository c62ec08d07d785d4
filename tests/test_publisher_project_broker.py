"""The publisher against the project's own locked-down mosquitto: its user, its ACL, TLS with the project's CA."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder
from tests.broker_project import ProjectBroker
from tests.publisher_run import PREFIX, config, fdc

NODE = "office-1"


@pytest.fixture
def project_broker() -> Iterator[ProjectBroker]:
    b = ProjectBroker(tls=True, nodes=(NODE,), name="pub")
    b.start()
    yield b
    b.close()


def with_mqtt(cfg: Path, lines: str) -> Path:
    text = cfg.read_text().replace("mqtt:\n  host: 127.0.0.1\n", "mqtt:\n  host: localhost\n" + lines)
    cfg.write_text(text)
    return cfg


def test_publisher_over_tls_as_its_own_user(tmp_path: Path, bamboo: BambooSim, project_broker: ProjectBroker) -> None:
    cfg = config(tmp_path, bamboo, project_broker.tls_port)
    with_mqtt(cfg, f"  username: publisher\n  tls:\n    ca_file: {project_broker.ca_file}\n")
    os.environ["FDC_MQTT_PASSWORD"] = project_broker.password("publisher")
    try:
        r = fdc("publisher", "-c", str(cfg), "--once")
    finally:
        del os.environ["FDC_MQTT_PASSWORD"]
    assert r.returncode == 0, r.stderr
    assert project_broker.password("publisher") not in r.stdout + r.stderr
    plain = Broker(Path("/nonexistent"), port=project_broker.port)  # a display reads on the plain listener
    rec = Recorder(plain, f"{PREFIX}/#", username=NODE, password=project_broker.password(NODE))
    try:
        assert rec.wait_for(f"{PREFIX}/weeks") == b"3"
        assert json.loads(rec.wait_for(f"{PREFIX}/state"))["weeks"] == 3
    finally:
        rec.close()


def test_wrong_mqtt_password_exits_3_naming_the_user(
    tmp_path: Path, bamboo: BambooSim, project_broker: ProjectBroker
) -> None:
    cfg = with_mqtt(config(tmp_path, bamboo, project_broker.port), "  username: publisher\n  password: wrong-pw\n")
    r = fdc("publisher", "-c", str(cfg), "--once")
    assert r.returncode == 3
    assert f"the MQTT broker at mqtt://localhost:{project_broker.port} refused user 'publisher'" in r.stderr
    assert "check mqtt.username and mqtt.password (or FDC_MQTT_USERNAME / FDC_MQTT_PASSWORD)" in r.stderr
    assert "wrong-pw" not in r.stdout + r.stderr


def test_ca_mismatch_is_refused(tmp_path: Path, bamboo: BambooSim, project_broker: ProjectBroker) -> None:
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_text(Path("/etc/ssl/certs/ca-certificates.crt").read_text())  # public CAs, not ours
    cfg = config(tmp_path, bamboo, project_broker.tls_port)
    with_mqtt(cfg, f"  username: publisher\n  password: x\n  tls:\n    ca_file: {other_ca}\n")
    r = fdc("publisher", "-c", str(cfg), "--once", timeout=90)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert f"TLS with the MQTT broker at mqtts://localhost:{project_broker.tls_port} failed" in r.stderr
    assert "check mqtt.tls.ca_file" in r.stderr
