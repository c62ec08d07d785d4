"""`fdc web` without a browser: what the page says (display_node/page.py), the state checks, and the server's
bounds (many pages, a page that never reads, the page's files in the package)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from common.payloads import PayloadError
from display_node.config import load
from display_node.node import NO_BROKER, PUBLISHER_OFFLINE, Showing
from display_node.page import blocks_for, decode_state, deploy_text, model, record_text
from display_node.render import pixels, render
from display_node.web import MAX_PAGES, STATIC, Hub, WebServer
from tests.broker import free_port, wait_until
from tests.run_fdc import run_fdc
from tests.test_broker_deploy import project_files


def test_blocks_are_as_many_as_the_number_needs() -> None:
    assert [blocks_for(v) for v in (None, 0, 7, 42, 99, 100, 1234, 12345)] == [2, 1, 1, 2, 2, 3, 4, 5]


def test_record_and_deploy_sentences_from_the_state() -> None:
    base = {"counted_from": "2026-11-06", "since": "deploy"}
    rec = {"weeks": 11, "from": "2025-03-07", "until": "2025-05-23"}
    assert record_text(decode_state(json.dumps({**base, "record": rec}).encode())) == (
        "Record: 11 weeks, from Friday 7 March 2025 to Friday 23 May 2025"
    )
    current = {**rec, "weeks": 1, "until": None}
    assert record_text(decode_state(json.dumps({**base, "record": current}).encode())) == (
        "Record: 1 week, the current run, since Friday 7 March 2025"
    )
    for absent in ({}, {"record": None}, {"record": {"weeks": "many", "from": "2025-03-07"}}):
        assert record_text(decode_state(json.dumps({**base, **absent}).encode())) == ""
    assert deploy_text(decode_state(json.dumps({**base, "last_friday_deploy": None}).encode())) == (
        "No Friday deployment seen since Friday 6 November 2026"
    )
    long = {"project": "P" * 500 + "\x1b[2J", "environment": "Prod", "started": "not a time"}
    text = deploy_text(decode_state(json.dumps({**base, "last_friday_deploy": long}).encode()))
    assert text == "Last Friday deployment: " + "P" * 120 + "… → Prod"
    assert decode_state(b"") is None


@pytest.mark.parametrize(
    ("payload", "why"),
    [(b"\xff", "not UTF-8 JSON"), (b"[1]", "not a JSON object"), (b"[" * 100_000, "not UTF-8 JSON")],
)
def test_bad_states_are_refused(payload: bytes, why: str) -> None:
    with pytest.raises(PayloadError, match=why):
        decode_state(payload)
    with pytest.raises(PayloadError, match="over the 262144-byte limit"):
        decode_state(b" " * 300_000)


def test_stale_sentences() -> None:
    rows = pixels(render(3, 8))
    assert model(rows, Showing("3", 3, True, NO_BROKER), None)["stale_text"] == (
        "Stale: this screen has no connection to the MQTT broker"
    )
    assert model(rows, Showing("3", 3, True, PUBLISHER_OFFLINE), None)["stale_text"] == (
        "Stale: the publisher has been offline for over 30 minutes"
    )
    assert model(rows, Showing("3", 3, False), None)["stale_text"] == ""


def test_the_page_files_ship_in_the_wheel(tmp_path: Path) -> None:
    """pyproject's package-data: a wheel built from a clone's files (as the Dockerfile's `pip install .`) has them."""
    root = Path(__file__).resolve().parents[1]
    context = tmp_path / "src"
    for name in project_files():
        if name.split("/")[0] in ("pyproject.toml", "README.md", "fdc", "common", "publisher", "display_node", "demo"):
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, context / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for name in STATIC:
            assert zf.read(f"display_node/static/{name}") == (root / "display_node" / "static" / name).read_bytes()


def events(port: int, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def read_until(sock: socket.socket, needle: bytes, timeout: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        assert time.monotonic() < deadline, f"{needle!r} did not arrive (got {got[-200:]!r})"
        got += sock.recv(65536)
    return got


def test_many_pages_and_one_that_never_reads_do_not_hold_up_the_others() -> None:
    hub = Hub(1800)
    server = WebServer(hub, f"127.0.0.1:{free_port()}")
    server.start()
    pages: list[socket.socket] = []
    try:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        stuck.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads a byte
        pages = [events(server.port) for _ in range(50)]
        wait_until(lambda: hub.pages == 51, 10, "51 pages connected")
        for i in range(2000):  # far more than the stuck page's buffers hold
            hub.frame([f"{i:016b}".replace("0", ".").replace("1", "#")])
        hub.showing(Showing("42", 42, False))
        for sock in pages:
            assert b'"text":"42"' in read_until(sock, b'"text":"42"')
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/now", timeout=5) as r:
            assert json.loads(r.read())["value"] == 42
        stuck.close()
    finally:
        for sock in pages:
            sock.close()
        server.stop()
    assert server.thread is not None and not server.thread.is_alive()


def test_pages_beyond_the_limit_are_told_to_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("display_node.web.MAX_PAGES", 2)
    hub = Hub(1800)
    server = WebServer(hub, f"127.0.0.1:{free_port()}")
    server.start()
    socks = [events(server.port) for _ in range(2)]
    try:
        wait_until(lambda: hub.pages == 2, 10, "two pages connected")
        third = events(server.port)
        assert read_until(third, b"\r\n").startswith(b"HTTP/1.1 503")
        third.close()
    finally:
        for s in socks:
            s.close()
        server.stop()
    assert MAX_PAGES == 256


def test_web_config_problems_are_sentences(tmp_path: Path) -> None:
    cfg = tmp_path / "web.yaml"
    cfg.write_text("node_id: lobby\nweb: {listen: 'nowhere'}\n")
    res = run_fdc("web", "-c", str(cfg))
    assert res.returncode == 2 and "web.listen: 'nowhere' is not host:port" in res.stderr
    cfg.write_text("node_id: lobby\nweb: {}\ndisplay: {driver: dummy}\n")
    res = run_fdc("web", "-c", str(cfg))
    assert res.returncode == 2 and "a web node (web:) has no display section" in res.stderr
    cfg.write_text("node_id: lobby\n")
    res = run_fdc("web", "-c", str(cfg))
    assert res.returncode == 2 and "web: missing" in res.stderr
    cfg.write_text("node_id: lobby\nweb: {listen: 127.0.0.1:8090}\n")
    res = run_fdc("display", "-c", str(cfg))
    assert res.returncode == 2 and "is a web node's config (web:): run it with fdc web -c" in res.stderr
    assert run_fdc("check-config", str(cfg)).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        cfg.write_text(f"node_id: lobby\nmqtt: {{port: 1}}\nweb: {{listen: '127.0.0.1:{taken.getsockname()[1]}'}}\n")
        res = run_fdc("web", "-c", str(cfg))
    assert res.returncode == 2 and "cannot listen on 127.0.0.1" in res.stderr


def test_hub_wakes_pages_from_other_threads() -> None:
    hub = Hub(1800)
    before = hub.picture()[0]
    t = threading.Thread(target=hub.showing, args=(Showing("5", 5, False),))
    t.start()
    t.join()
    version, body = hub.picture()
    assert version > before and json.loads(body)["value"] == 5


def test_the_readme_web_example_is_a_valid_web_node_config(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("```yaml\n# web.yaml", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    (tmp_path / "web.yaml").write_text(block)
    config = load(tmp_path / "web.yaml")
    assert (config.node_id, config.web_listen, config.stale_after) == ("lobby-tv", "0.0.0.0:8090", 1800)
