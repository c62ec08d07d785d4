"""`fdc publisher` with `webhooks:` and `fdc push`, both as processes: end to end, and across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import requests

from tests.broker import Broker, Recorder, free_port, wait_until
from tests.publisher_run import TZ, three_weeks_ago_friday
from tests.run_fdc import run_fdc, spawn_fdc

TOKEN = "e2e-push-t0ken"


def friday(weeks_ago: int, hour: int = 16) -> datetime:
    f = three_weeks_ago_friday() + timedelta(weeks=3 - weeks_ago)
    return datetime(f.year, f.month, f.day, hour, 0, tzinfo=TZ)


def start(tmp_path: Path, broker: Broker, port: int) -> subprocess.Popen[str]:
    cfg = tmp_path / "publisher.yaml"
    cfg.write_text(
        f"timezone: Europe/Berlin\npoll_interval: 1h\nstate_file: {tmp_path / 'state.json'}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\nwebhooks: {{listen: '127.0.0.1:{port}'}}\n"
    )
    proc = spawn_fdc("publisher", "-c", str(cfg), env={**os.environ, "FDC_WEBHOOK_TOKEN": TOKEN})

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the publisher exited: {proc.communicate()[1]}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok"
        except requests.RequestException:
            return False

    wait_until(healthy, 20, "the receiver's /healthz")
    return proc


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def push(port: int, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FDC_WEBHOOK_TOKEN"}
    if token is not None:
        env["FDC_WEBHOOK_TOKEN"] = token
    return run_fdc("push", "--url", f"http://127.0.0.1:{port}", "--project", "Payments", *args, env=env, timeout=30)


def test_fdc_push_end_to_end_and_across_a_restart(tmp_path: Path, broker: Broker) -> None:
    port = free_port()
    proc = start(tmp_path, broker, port)
    rec = Recorder(broker, "friday-deploy/#")
    try:
        three = friday(3)
        got = push(port, "--environment", "Production", "--started", three.isoformat(), "--finished",
                   (three + timedelta(minutes=9)).isoformat(), "--version", "release-42")  # fmt: skip
        assert got.returncode == 0, got.stderr
        assert got.stdout.startswith("counted fdc-") and "3 week(s)" in got.stdout
        assert rec.wait_for("friday-deploy/weeks", lambda p: p == b"3") == b"3"

        running = friday(0, hour=23)
        got = push(port, "--environment", "Production", "--started", running.isoformat(), "--id", "job-1")
        assert (got.returncode, got.stdout.strip()) == (0, "counted job-1: 0 week(s) since a Friday deployment")
        assert rec.wait_for("friday-deploy/weeks", lambda p: p == b"0") == b"0"

        ignored = push(port, "--environment", "Staging", "--started", three.isoformat())
        assert ignored.returncode == 0 and ignored.stdout.startswith("not counted (environment 'Staging'")
        err = stop(proc)
        assert TOKEN not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        rec.close()

    saved = json.loads((tmp_path / "state.json").read_text())["sources"]["push"]
    assert [d["result_id"] for d in saved["memo"]["deployments"]][-1] == "job-1"

    broker.stop()  # a broker that lost its retained messages: the restarted publisher has them from its state
    broker.start()
    rec = Recorder(broker, "friday-deploy/#")
    proc = start(tmp_path, broker, port)
    try:
        assert rec.wait_for("friday-deploy/weeks") == b"0"
        state = json.loads(rec.wait_for("friday-deploy/state", lambda p: b"job-1" in p))
        assert (state["source"], state["since"], state["last_friday_deploy"]["result_id"]) == ("push", "deploy",
                                                                                              "job-1")  # fmt: skip
        done = push(port, "--environment", "Production", "--started", running.isoformat(), "--id", "job-1",
                    "--finished", (running + timedelta(minutes=20)).isoformat(), "--state", "FAILED")  # fmt: skip
        assert done.returncode == 0, done.stderr
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        rec.close()
    kept = json.loads((tmp_path / "state.json").read_text())["sources"]["push"]["memo"]["deployments"]
    job = [d for d in kept if d["result_id"] == "job-1"]
    assert [(d["lifecycle"], d["state"]) for d in job] == [("ran", "FAILED")]  # updated, not added


def test_fdc_push_exit_codes(tmp_path: Path, broker: Broker) -> None:
    port = free_port()
    proc = start(tmp_path, broker, port)
    try:
        no_token = push(port, "--environment", "Production", "--started", "now", token=None)
        assert no_token.returncode == 2 and "no token" in no_token.stderr
        bad_time = push(port, "--environment", "Production", "--started", "yesterday")
        assert bad_time.returncode == 2 and bad_time.stderr.startswith("fdc push: --started: not a time")
        naive = push(port, "--environment", "Production", "--started", "2026-01-01T10:00:00")
        assert naive.returncode == 2 and "no UTC offset" in naive.stderr
        future = push(port, "--environment", "Production", "--started", "2099-01-01T10:00:00Z")
        assert future.returncode == 2 and "in the future" in future.stderr
        refused = push(port, "--environment", "Production", "--started", "now", token="wrong-token")
        assert refused.returncode == 3 and "refused the token" in refused.stderr and "wrong-token" not in refused.stderr
        missing = run_fdc("push", "--url", f"http://127.0.0.1:{port}")
        assert missing.returncode == 2 and "required" in missing.stderr
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    gone = push(port, "--environment", "Production", "--started", "now")
    assert gone.returncode == 3 and gone.stderr.startswith("fdc push: cannot reach")
    assert len(gone.stderr.strip().splitlines()) == 1


def test_a_taken_port_is_a_sentence_and_exit_2(tmp_path: Path, broker: Broker) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        cfg = tmp_path / "publisher.yaml"
        cfg.write_text(
            f"timezone: UTC\nstate_file: {tmp_path / 's.json'}\nmqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
            f"webhooks: {{listen: '127.0.0.1:{port}', token: {TOKEN}}}\n"
        )
        got = run_fdc("publisher", "-c", str(cfg), timeout=30)
    assert got.returncode == 2
    assert f"webhooks.listen: cannot listen on 127.0.0.1:{port}" in got.stderr and TOKEN not in got.stderr
