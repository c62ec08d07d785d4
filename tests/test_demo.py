"""`fdc demo` end to end, as a person runs it: the sample number reaches the matrix, Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from demo.history import WEEKS_BACK, last_friday, sample_history
from display_node.render import pixels, render
from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder, free_port, wait_until
from tests.pty_screen import PtyProcess
from tests.publisher_run import TOKEN
from tests.run_fdc import fdc_command

SHOWING = "friday-deploy/displays/demo-display/showing"


def test_sample_history_has_one_friday_deployment_weeks_back() -> None:
    tz = ZoneInfo("Europe/Berlin")
    for today in (date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 29), date(2027, 3, 1)):
        entries = sample_history(today, tz)
        fridays = {e["started"][:10] for e in entries if date.fromisoformat(e["started"][:10]).weekday() == 4}
        assert fridays == {(last_friday(today) - timedelta(weeks=WEEKS_BACK)).isoformat()}
        assert len(entries) >= 8 and all(e["environment"] == "Production" for e in entries)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def demo_workdir(output: str) -> str:
    """This run's own folder, from the demo's "Logs: <folder>/{...}" line: what marks its processes."""
    m = re.search(r"Logs: (\S+)/\{", output)
    assert m, output
    return m.group(1)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


@pytest.mark.parametrize("kind", ["mosquitto", "embedded"])
def test_demo_shows_the_sample_number_and_stops_on_ctrl_c(kind: str) -> None:
    port = free_port()
    cmd = fdc_command("demo", "--broker", kind, "--port", str(port), "--timezone", "UTC")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 30, "the demo's broker")
        assert proc.poll() is None, "".join(out)
        rec = Recorder(Broker(Path("/nonexistent"), port=port), SHOWING, username="operator", password="demo")
        try:
            showing = json.loads(rec.wait_for(SHOWING, lambda p: json.loads(p)["value"] == WEEKS_BACK, timeout=40))
        finally:
            rec.close()
        assert showing["text"] == str(WEEKS_BACK) and showing["stale"] is False
        frame = "\n".join(pixels(render(WEEKS_BACK, 32, 8)))  # the 4-block FC-16 matrix, as text
        wait_until(lambda: frame in "".join(out), 20, f"the frame for {WEEKS_BACK} in the demo's output")
        text = "".join(out)
        assert f"broker on 127.0.0.1:{port}" in text and f"mosquitto_pub -p {port} -u operator -P demo" in text
        assert ("mosquitto with the project's config" in text) == (kind == "mosquitto")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    reader.join(5)
    assert code == 0, "".join(out)
    assert "stopped the display node, the publisher and the broker" in "".join(out)
    assert not port_open(port)
    workdir = demo_workdir("".join(out))
    assert processes_mentioning(workdir) == []  # only this run's: other checkouts' demos may be running
    assert not Path(workdir).exists()  # nothing failed: nothing kept


def test_demo_against_a_real_bamboo(bamboo: BambooSim) -> None:
    port = free_port()
    cmd = fdc_command("demo", "--bamboo-url", bamboo.url, "--port", str(port),
           "--timezone", "Europe/Berlin")  # fmt: skip
    env = {**os.environ, "FDC_BAMBOO_TOKEN": TOKEN}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 30, "the demo's broker")
        rec = Recorder(Broker(Path("/nonexistent"), port=port), SHOWING, username="operator", password="demo")
        try:
            rec.wait_for(SHOWING, lambda p: json.loads(p)["value"] == 3, timeout=40)
        finally:
            rec.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert f"publisher reading {bamboo.url}" in out and TOKEN not in out


def test_demo_with_bamboo_needs_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FDC_BAMBOO_TOKEN"}
    r = subprocess.run(fdc_command("demo", "--bamboo-url", "https://bamboo.example.com"),
                       capture_output=True, text=True, env=env, timeout=30)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip() == "fdc demo: --bamboo-url needs a personal access token in FDC_BAMBOO_TOKEN"


def test_demo_shows_why_the_matrix_shows_dashes_and_keeps_the_logs() -> None:
    """A Bamboo that cannot be reached: on a real terminal the error is under the matrix, and the logs that
    say why survive Ctrl-C."""
    port, closed = free_port(), free_port()  # nothing listens on `closed`
    cmd = fdc_command("demo", "--bamboo-url", f"http://127.0.0.1:{closed}", "--port", str(port), "--timezone", "UTC")
    term = PtyProcess(cmd, env={**os.environ, "FDC_BAMBOO_TOKEN": TOKEN, "COLUMNS": "200"})
    workdir = None
    try:
        wait_until(lambda: any(line.startswith("publisher error: ") for line in term.screen()), 60,
                   "the publisher's error under the matrix")  # fmt: skip
        lines = term.screen()
        dashes = [r.replace("#", "█").replace(".", "·") for r in pixels(render(None, 32, 8))]
        top = lines.index(dashes[0])
        assert lines[top : top + 8] == dashes
        error = next(line for line in lines if line.startswith("publisher error: "))
        assert lines.index(error) == top + 8  # right under the drawing, not across it
        assert "publisher.log" in lines[top + 9]
        workdir = demo_workdir(term.output)
    finally:
        term.proc.send_signal(signal.SIGINT)
        code = term.proc.wait(30)
        term.close()
    try:
        assert code == 0
        assert f"the logs are kept in {workdir}" in term.output
        assert (Path(workdir) / "publisher.log").read_text().strip()
        assert processes_mentioning(workdir) == []
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def test_the_fallback_acl_is_the_project_acl() -> None:
    """A wheel has no mosquitto/acl: the demo's copy of its rules must not drift from it."""
    from demo.broker import FALLBACK_ACL

    acl = (Path(__file__).resolve().parents[1] / "mosquitto" / "acl").read_text()
    rules = [line for line in acl.splitlines() if line.strip() and not line.startswith("#")]
    assert FALLBACK_ACL.splitlines() == rules
