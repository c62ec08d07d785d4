"""`fdc publisher` as a subprocess against the Bamboo simulator and a real mosquitto."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder, free_port, wait_until
from tests.publisher_run import PREFIX, TOKEN, TZ, config, fdc, spawn, three_weeks_ago_friday


def test_once_publishes_retained_weeks_state_and_status(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    cfg = config(tmp_path, bamboo, broker.port)
    r = fdc("publisher", "-c", str(cfg), "--once")
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    rec = Recorder(broker, f"{PREFIX}/#")  # subscribes after the publisher left: only retained messages arrive
    try:
        assert rec.wait_for(f"{PREFIX}/weeks") == b"3"
        assert rec.wait_for(f"{PREFIX}/status") == b"online"
        state = json.loads(rec.wait_for(f"{PREFIX}/state"))
        assert all(m.retain for m in rec.messages)
    finally:
        rec.close()
    fri = three_weeks_ago_friday()
    assert state["weeks"] == 3 and state["since"] == "deploy" and state["counted_from"] == fri.isoformat()
    assert state["error"] is None and state["source"] == "bamboo" and state["timezone"] == "Europe/Berlin"
    last = state["last_friday_deploy"]
    assert (last["project"], last["environment"], last["version"], last["state"]) == (
        "Payments", "Production", f"release-{fri.isoformat()}", "SUCCESS",
    )  # fmt: skip
    assert last["started"] == datetime(fri.year, fri.month, fri.day, 16, 42, 10, tzinfo=TZ).isoformat()
    assert last["finished"] == datetime(fri.year, fri.month, fri.day, 16, 51, 10, tzinfo=TZ).isoformat()
    assert last["url"].endswith(f"deploy/viewDeploymentResult.action?deploymentResultId={last['result_id']}")
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    assert saved["sources"]["bamboo"]["best"]["friday"] == fri.isoformat()
    assert last["source"] == "bamboo"

    # mosquitto_sub itself sees the same retained values
    out = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", f"{PREFIX}/#", "-v", "-C", "4", "-W", "10"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines[f"{PREFIX}/weeks"] == "3" and lines[f"{PREFIX}/status"] == "online"
    assert json.loads(lines[f"{PREFIX}/state"])["weeks"] == 3
    assert lines[f"{PREFIX}/record"] == "3"  # the only run seen is the current one

    # the second --once is incremental: one dashboard request, no results read
    before = sum(n for k, n in bamboo.requests.items() if k.endswith("/results"))
    assert fdc("publisher", "-c", str(cfg), "--once").returncode == 0
    assert sum(n for k, n in bamboo.requests.items() if k.endswith("/results")) == before


def test_dry_run_prints_a_sentence_and_touches_nothing(tmp_path: Path, bamboo: BambooSim) -> None:
    cfg = config(tmp_path, bamboo, free_port())  # no broker there: --dry-run does not use MQTT
    r = fdc("publisher", "-c", str(cfg), "--once", "--dry-run")
    assert r.returncode == 0, r.stderr
    fri = three_weeks_ago_friday()
    assert r.stdout.strip() == (
        f"3 weeks since the last Friday deployment: Payments → Production, release-{fri.isoformat()}, "
        f"Fri {fri.isoformat()} 16:42–16:51 Europe/Berlin (SUCCESS) "
        f"{bamboo.url}/deploy/viewDeploymentResult.action?deploymentResultId="
        f"{next(x.id for x in bamboo.envs[next(iter(bamboo.envs))].results if x.started.date() == fri)}"
    )
    assert not (tmp_path / "state").exists()
    r = fdc("publisher", "-c", str(cfg), "--once", "--dry-run", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["weeks"] == 3
    assert TOKEN not in r.stdout + r.stderr


def test_bad_config_exits_2_naming_the_key(tmp_path: Path, bamboo: BambooSim) -> None:
    cfg = config(tmp_path, bamboo, free_port(), timezone="Europe/Berln")
    r = fdc("publisher", "-c", str(cfg), "--once")
    assert r.returncode == 2
    assert "timezone: unknown timezone 'Europe/Berln'" in r.stderr and "Traceback" not in r.stderr


def test_refused_token_exits_3_with_a_sentence(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    bamboo.token = "another-token"
    r = fdc("publisher", "-c", str(config(tmp_path, bamboo, broker.port)), "--once", "--log-level", "debug")
    assert r.returncode == 3
    assert (
        f"Bamboo at {bamboo.url} refused the personal access token: check bamboo.token (or FDC_BAMBOO_TOKEN)"
        in r.stderr
    )
    assert TOKEN not in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_unreachable_broker_exits_3(tmp_path: Path, bamboo: BambooSim) -> None:
    port = free_port()
    r = fdc("publisher", "-c", str(config(tmp_path, bamboo, port)), "--once")
    assert r.returncode == 3
    assert f"mqtt://127.0.0.1:{port}" in r.stderr and "check mqtt.host and mqtt.port" in r.stderr


def test_service_lifecycle(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    """Publishes, keeps the number through a Bamboo outage, heals a broker restart, says offline on SIGTERM."""
    rec = Recorder(broker, f"{PREFIX}/#")
    proc = spawn("publisher", "-c", str(config(tmp_path, bamboo, broker.port)))
    try:
        rec.wait_for(f"{PREFIX}/weeks", lambda p: p == b"3", timeout=20)
        rec.wait_for(f"{PREFIX}/status", lambda p: p == b"online")

        bamboo.fail_next(500, times=1000)  # Bamboo breaks: the number stays, state.error says why
        state = json.loads(rec.wait_for(f"{PREFIX}/state", lambda p: json.loads(p)["error"] is not None, timeout=30))
        assert state["weeks"] == 3 and "answered HTTP 500" in state["error"]
        assert set(rec.payloads(f"{PREFIX}/weeks")) == {b"3"}
        bamboo.faults.clear()
        rec.wait_for(f"{PREFIX}/state", lambda p: json.loads(p)["error"] is None and json.loads(p) != state, 30)

        broker.stop()  # retained messages are lost with this broker (no persistence)
        rec.close()
        broker.start()
        rec = Recorder(broker, f"{PREFIX}/#")
        rec.wait_for(f"{PREFIX}/weeks", lambda p: p == b"3", timeout=40)
        rec.wait_for(f"{PREFIX}/status", lambda p: p == b"online")

        rec.clear()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rec.wait_for(f"{PREFIX}/status", lambda p: p == b"offline")
        assert json.loads((tmp_path / "state" / "state.json").read_text())["sources"]["bamboo"]["best"] is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
    assert TOKEN not in (proc.stderr.read() if proc.stderr else "")


def test_kill_9_leaves_the_last_will(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    rec = Recorder(broker, f"{PREFIX}/status")
    proc = spawn("publisher", "-c", str(config(tmp_path, bamboo, broker.port)))
    try:
        rec.wait_for(f"{PREFIX}/status", lambda p: p == b"online", timeout=20)
        proc.kill()
        proc.wait(10)
        rec.wait_for(f"{PREFIX}/status", lambda p: p == b"offline", timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()


def test_broker_down_at_start_is_not_fatal(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    broker.stop()
    proc = spawn("publisher", "-c", str(config(tmp_path, bamboo, broker.port)))
    try:
        wait_until(lambda: (tmp_path / "state" / "state.json").exists(), 20, "the first poll's state file")
        assert proc.poll() is None
        broker.start()
        rec = Recorder(broker, f"{PREFIX}/#")
        try:
            rec.wait_for(f"{PREFIX}/weeks", lambda p: p == b"3", timeout=40)
        finally:
            rec.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


def test_once_with_bamboo_down_keeps_the_last_good_number(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    cfg = config(tmp_path, bamboo, broker.port)
    assert fdc("publisher", "-c", str(cfg), "--once").returncode == 0
    bamboo.html_login = True  # a proxy now answers with a login page
    r = fdc("publisher", "-c", str(cfg), "--once")
    assert r.returncode == 3 and "instead of JSON" in r.stderr and "Traceback" not in r.stderr
    rec = Recorder(broker, f"{PREFIX}/#")
    try:
        assert rec.wait_for(f"{PREFIX}/weeks") == b"3"
        state = json.loads(rec.wait_for(f"{PREFIX}/state"))
    finally:
        rec.close()
    assert state["weeks"] == 3 and state["since"] == "deploy" and "instead of JSON" in state["error"]


def test_debug_logs_each_request_and_publish_without_secrets(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    r = fdc("publisher", "-c", str(config(tmp_path, bamboo, broker.port)), "--once", "--log-level", "debug")
    assert r.returncode == 0, r.stderr
    requests = [line for line in r.stderr.splitlines() if " DEBUG fdc.http: " in line]
    assert any(
        "GET /rest/api/latest/deploy/project/all: 200, " in line and " ms, 0 retries" in line for line in requests
    )
    assert any(f" DEBUG fdc.mqtt: publish {PREFIX}/weeks (1 bytes, retained)" in line for line in r.stderr.splitlines())
    assert TOKEN not in r.stderr and "Authorization" not in r.stderr and "Bearer" not in r.stderr


def test_once_that_cannot_save_its_state_is_an_error(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    cfg = config(tmp_path, bamboo, broker.port)
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    r = fdc("publisher", "-c", str(cfg), "--once")
    assert r.returncode == 2, r.stderr
    assert f"fdc publisher: cannot save the state file {blocker / 'state.json'}" in r.stderr
    assert "check state_file" in r.stderr and "Traceback" not in r.stderr


def test_bamboo_and_a_file_in_one_publisher(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    today = datetime.now(TZ).date()
    friday = today - timedelta(days=(today.weekday() - 4) % 7)  # this week's Friday (or today)
    if friday == today:
        friday -= timedelta(weeks=1)
    (tmp_path / "deployments.yaml").write_text(
        f"- {{project: Shop, environment: Production, started: '{friday} 15:00', finished: '{friday} 15:10'}}\n"
    )
    cfg = config(tmp_path, bamboo, broker.port)
    cfg.write_text(cfg.read_text() + "file:\n  path: deployments.yaml\n")
    r = fdc("publisher", "-c", str(cfg), "--once", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    state = json.loads(r.stdout)
    assert state["source"] == "bamboo+file" and state["weeks"] == (today - friday).days // 7
    assert state["last_friday_deploy"]["source"] == "file" and state["last_friday_deploy"]["project"] == "Shop"
