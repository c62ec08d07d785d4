"""The HTTP receiver over real HTTP beside a real broker: every endpoint's good and bad cases, hostile clients."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from publisher import receiver
from publisher.config import load
from publisher.loop import make_link, publish, run_forever
from publisher.service import Publisher
from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder, free_port, wait_until
from tests.conftest import SHARED
from tests.publisher_run import TOKEN, TZ, three_weeks_ago_friday

PUSH_TOKEN, GH_SECRET, GL_TOKEN, BAMBOO_TOKEN = "push-t0ken-9", "gh-s3cret", "gl-t0ken", "bamboo-hint-7"
SAMPLES = SHARED / "source-samples"


@dataclass
class Running:
    pub: Publisher
    url: str
    rec: Recorder
    state_file: Path

    def post(self, path: str, body: Any = None, raw: bytes | None = None, **headers: str) -> requests.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        return requests.post(self.url + path, data=data, headers=headers, timeout=10)

    def push(self, body: Any, token: str = PUSH_TOKEN) -> requests.Response:
        return self.post("/api/v1/deployments", body, Authorization=f"Bearer {token}")

    def kept(self) -> list[dict[str, Any]]:
        part = self.pub.state.sources.get("push")
        return list(part.memo.get("deployments", [])) if part else []

    def weeks(self) -> bytes | None:
        return self.rec.last("friday-deploy/weeks")


def serve(tmp_path: Path, broker: Broker, extra: str = "", environments: str = '["production"]') -> Iterator[Running]:
    port = free_port()
    state_file = tmp_path / "state.json"
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(
        f"timezone: Europe/Berlin\npoll_interval: 1h\nstate_file: {state_file}\n{extra}"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"webhooks:\n  listen: 127.0.0.1:{port}\n  token: {PUSH_TOKEN}\n  github_secret: {GH_SECRET}\n"
        f"  gitlab_token: {GL_TOKEN}\n  bamboo_token: {BAMBOO_TOKEN}\n  environments: {environments}\n"
    )
    cfg = load(cfg_path)
    sources = cfg.make_sources()
    pub = Publisher(cfg, sources)
    link = make_link(pub)
    pub.announce = lambda: publish(link, pub)
    rec = Recorder(broker, "friday-deploy/#")
    web = receiver.start(pub)
    assert web is not None
    stop = threading.Event()
    loop = threading.Thread(target=run_forever, args=(pub, link, stop), daemon=True)
    loop.start()
    wait_until(lambda: pub.polled and rec.last("friday-deploy/state") is not None, 20, "the first poll")
    try:
        yield Running(pub, f"http://127.0.0.1:{port}", rec, state_file)
    finally:
        stop.set()
        loop.join(10)
        web.stop()
        rec.close()
        for s in sources:
            s.close()


@pytest.fixture
def running(tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setattr(receiver, "REQUEST_SECONDS", 1.0)
    yield from serve(tmp_path, broker, environments='["production", "staging"]')


def friday(weeks_ago: int, hour: int = 16) -> datetime:
    f = three_weeks_ago_friday() + timedelta(weeks=3 - weeks_ago)
    return datetime(f.year, f.month, f.day, hour, 0, tzinfo=TZ)


def body(weeks_ago: int = 3, **kw: Any) -> dict[str, Any]:
    start = friday(weeks_ago)
    out: dict[str, Any] = {"id": f"ci-{weeks_ago}", "project": "Payments", "environment": "Production"}
    out.update(started=start.isoformat(), finished=(start + timedelta(minutes=9)).isoformat())
    out.update(kw)
    return out


def test_healthz_and_unknown_paths(running: Running) -> None:
    r = requests.get(running.url + "/healthz", timeout=5)
    assert (r.status_code, r.text) == (200, "ok")
    assert requests.get(running.url + "/api/v1/deployments", timeout=5).status_code == 405
    assert requests.get(running.url + "/nothing", timeout=5).status_code == 404


def test_a_push_is_counted_published_and_kept(running: Running) -> None:
    r = running.push(body(3, version="release-42"))
    assert (r.status_code, r.json()) == (202, {"counted": True, "weeks": 3})
    assert running.rec.wait_for("friday-deploy/weeks", lambda p: p == b"3") == b"3"
    state = json.loads(running.rec.wait_for("friday-deploy/state", lambda p: b"ci-3" in p))
    assert state["source"] == "push" and state["since"] == "deploy"
    last = state["last_friday_deploy"]
    assert (last["source"], last["result_id"], last["version"]) == ("push", "ci-3", "release-42")
    saved = json.loads(running.state_file.read_text())  # the 202 comes after the save
    assert [d["result_id"] for d in saved["sources"]["push"]["memo"]["deployments"]] == ["ci-3"]


def test_the_same_id_again_updates_it_from_running_to_finished(running: Running) -> None:
    start = friday(0, hour=23)
    r = running.push({"id": "job-7", "project": "Payments", "environment": "Production", "started": start.isoformat()})
    assert r.json() == {"counted": True, "weeks": 0}
    assert running.kept()[0]["lifecycle"] == "running"
    r = running.push({"id": "job-7", "project": "Payments", "environment": "Production",
                      "started": start.isoformat(), "finished": (start + timedelta(minutes=30)).isoformat(),
                      "state": "FAILED"})  # fmt: skip
    assert r.json() == {"counted": True, "weeks": 0}
    (kept,) = running.kept()
    assert (kept["lifecycle"], kept["state"]) == ("ran", "FAILED")


def test_what_the_patterns_do_not_match_is_answered_not_counted(running: Running) -> None:
    running.push(body(3))
    r = running.push(body(0, environment="QA"))
    assert r.status_code == 202
    assert r.json() == {"counted": False, "weeks": 3, "reason": "environment 'QA' does not match webhooks.environments "
                        "['production', 'staging']"}  # fmt: skip
    assert [d["result_id"] for d in running.kept()] == ["ci-3"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {PUSH_TOKEN}"}, {"Authorization": "Bearer "}],
)
def test_no_valid_token_is_401_and_nothing_counted(running: Running, headers: dict[str, str]) -> None:
    r = running.post("/api/v1/deployments", body(0), **headers)
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    assert running.kept() == []


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels"),
        (json.dumps({"id": {"a": [[[[1]]]]}}).encode(), "id must be a string, not an object"),
        (json.dumps(body(3, id="x" * 100_000)).encode(), "id is longer than 256 characters"),
        (json.dumps(body(3, id=10**300)).encode(), "id must be a string, not a number"),
        (b'{"id": "a", "project": "P", "environment": "Production", "started": 1e400}', "started: not a time"),
        (json.dumps(body(3, started="2026-01-01T10:00:00")).encode(), "started has no UTC offset"),
        (json.dumps(body(3, started="1999-01-01T10:00:00Z")).encode(), "before the year 2000"),
        (json.dumps(body(3, started="2099-01-01T10:00:00Z", finished=None)).encode(), "in the future"),
        (json.dumps(body(3, project=7)).encode(), "project must be a string"),
        (b'"just a string"', "the body must be a JSON object"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(running: Running, raw: bytes, says: str) -> None:
    r = running.post("/api/v1/deployments", raw=raw, Authorization=f"Bearer {PUSH_TOKEN}")
    assert r.status_code == 400 and says in r.json()["error"], r.text
    assert running.kept() == []


def _raw(url: str, head: bytes, body_parts: list[bytes], read_timeout: float = 10) -> bytes:
    """Send `head` and the parts (stopping when the server closes), then read what it answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        s.sendall(head)
        try:
            for part in body_parts:
                s.sendall(part)
        except OSError:  # the server answered and closed while the rest was still coming
            pass
        chunks = []
        try:
            while data := s.recv(65536):
                chunks.append(data)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def _head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PUSH_TOKEN}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()  # fmt: skip


def test_a_2_mib_body_is_413_with_a_length_and_when_chunked(running: Running) -> None:
    two = 2 * 1024 * 1024
    answer = _raw(running.url, _head("/api/v1/deployments", f"Content-Length: {two}\r\n"), [b"x" * two])
    assert answer.startswith(b"HTTP/1.1 413 ")
    chunk = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 32 + [b"0\r\n\r\n"]
    answer = _raw(running.url, _head("/api/v1/deployments", "Transfer-Encoding: chunked\r\n"), chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")
    answer = _raw(running.url, _head("/hooks/github", f"Content-Length: {two}\r\n"), [b"x" * two])
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert running.kept() == []


def test_slow_and_half_open_clients_are_cut_off(running: Running) -> None:
    # Half the body, then nothing: the connection is closed (REQUEST_SECONDS is 1 s in these tests).
    answer = _raw(running.url, _head("/api/v1/deployments", "Content-Length: 100\r\n"), [b'{"id": "a"'])
    assert b" 202 " not in answer
    # Half the headers, then nothing.
    assert _raw(running.url, b"POST /api/v1/deployments HTTP/1.1\r\nHost: x\r\n", []) == b""
    # A connection that never sends a byte.
    assert _raw(running.url, b"", []) == b""
    assert running.kept() == []
    assert requests.get(running.url + "/healthz", timeout=5).status_code == 200  # still serving


# --- GitHub ------------------------------------------------------------------------------------------------


def github_sample(state: str, created: datetime) -> bytes:
    path = SAMPLES / "github.webhook.deployment_status.success.octokit.excerpt.json"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    s = json.loads(path.read_text())
    s["deployment_status"].update(state=state, created_at=created.isoformat())
    return json.dumps(s).encode()


def signed(raw: bytes, secret: str = GH_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def deliver(running: Running, raw: bytes, delivery: str, event: str = "deployment_status", **kw: str) -> Any:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signed(raw), **kw}
    return running.post("/hooks/github", raw=raw, **headers)


def test_a_signed_github_delivery_is_counted_once(running: Running) -> None:
    running.push(body(3))
    assert running.rec.wait_for("friday-deploy/weeks", lambda p: p == b"3")
    raw = github_sample("in_progress", friday(0, hour=15))
    r = deliver(running, raw, "d-1")
    assert (r.status_code, r.json()) == (202, {"counted": True, "weeks": 0})
    assert running.rec.wait_for("friday-deploy/weeks", lambda p: p == b"0")
    again = deliver(running, raw, "d-1")  # a replay
    assert again.status_code == 200 and again.json()["counted"] is False
    done = deliver(running, github_sample("success", friday(0, hour=17)), "d-2")
    assert done.json() == {"counted": True, "weeks": 0}
    kept = running.kept()[-1]
    assert (kept["source"], kept["result_id"], kept["project"]) == ("github", 145988746, "Codertocat/Hello-World")
    assert (kept["started"], kept["finished"]) == (friday(0, hour=15).isoformat(), friday(0, hour=17).isoformat())
    assert len(running.kept()) == 2  # the push and the one GitHub deployment, however many deliveries
    state = json.loads(running.rec.wait_for("friday-deploy/state", lambda p: b"github" in p))
    assert state["last_friday_deploy"]["source"] == "github"


def test_github_signatures_ping_and_other_events(running: Running) -> None:
    raw = github_sample("success", friday(0))
    headers = {"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "x"}
    assert running.post("/hooks/github", raw=raw, **headers).status_code == 401  # no signature
    wrong = signed(raw, "not-the-secret")
    assert running.post("/hooks/github", raw=raw, **headers, **{"X-Hub-Signature-256": wrong}).status_code == 401
    tampered = raw.replace(b"Hello-World", b"Hello-Worle")
    assert running.post("/hooks/github", raw=tampered, **headers,
                        **{"X-Hub-Signature-256": signed(raw)}).status_code == 401  # fmt: skip
    assert deliver(running, b'{"zen": "Keep it logically awesome."}', "p", event="ping").json() == {"pong": True}
    assert deliver(running, b'{"action": "opened"}', "i", event="issues").status_code == 204
    bad = deliver(running, b'{"deployment": {"id": "x"}, "deployment_status": {}}', "b")
    assert bad.status_code == 400 and "deployment.id" in bad.json()["error"]
    assert running.kept() == []


# --- GitLab ------------------------------------------------------------------------------------------------


def gitlab_sample(**change: Any) -> bytes:
    path = SAMPLES / "gitlab.webhook.deployment-hook.docs-example.json"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return json.dumps({**json.loads(path.read_text()), **change}).encode()


def test_gitlabs_sample_and_its_token(running: Running) -> None:
    hook = {"X-Gitlab-Event": "Deployment Hook"}
    raw = gitlab_sample()
    assert running.post("/hooks/gitlab", raw=raw, **hook).status_code == 401
    assert running.post("/hooks/gitlab", raw=raw, **hook, **{"X-Gitlab-Token": "wrong"}).status_code == 401
    r = running.post("/hooks/gitlab", raw=raw, **hook, **{"X-Gitlab-Token": GL_TOKEN})
    assert r.status_code == 202 and r.json()["counted"] is True  # staging is in this receiver's environments
    (kept,) = running.kept()
    assert (kept["source"], kept["result_id"], kept["started"]) == ("gitlab", 15, "2021-04-28T21:50:00+02:00")
    other = running.post("/hooks/gitlab", raw=b"{}", **{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": GL_TOKEN})
    assert other.status_code == 204
    fri = friday(2).strftime("%Y-%m-%d %H:%M:%S %z")
    r = running.post("/hooks/gitlab", raw=gitlab_sample(deployment_id=16, status="success", status_changed_at=fri,
                                                         environment="production"),
                     **hook, **{"X-Gitlab-Token": GL_TOKEN, "X-Gitlab-Event-UUID": "u-1"})  # fmt: skip
    assert r.json() == {"counted": True, "weeks": 2}


# --- Bamboo ------------------------------------------------------------------------------------------------


@pytest.fixture
def with_bamboo(tmp_path: Path, broker: Broker, bamboo: BambooSim, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("FDC_BAMBOO_TOKEN", TOKEN)
    for run in serve(tmp_path, broker, f"bamboo: {{url: '{bamboo.url}', timeout: 3}}\n"):
        yield run, bamboo


def test_bamboos_hint_makes_exactly_one_extra_read(with_bamboo: Any) -> None:
    run, sim = with_bamboo
    assert run.rec.wait_for("friday-deploy/weeks") == b"3"
    before = sum(sim.requests.values())
    assert run.post("/hooks/bamboo?token=wrong", {"uuid": "x"}).status_code == 401
    assert run.post("/hooks/bamboo", {"uuid": "x"}).status_code == 401
    path = SHARED / "bamboo-samples" / "webhook_deployment_finished.payload-2024.json"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    sample = path.read_bytes()
    r = run.post(f"/hooks/bamboo?token={BAMBOO_TOKEN}", raw=sample, **{"Content-Type": "application/json"})
    assert r.status_code == 202
    wait_until(lambda: sum(sim.requests.values()) > before, 10, "the hinted poll")
    wait_until(lambda: not run.pub.hints.is_set(), 10, "the hint to be taken")
    assert sum(sim.requests.values()) == before + 1  # one steady poll: the dashboard status call
    assert run.pub.state.sources.get("push") is None  # a hint is not a deployment
