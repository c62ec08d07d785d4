"""No answer from Bamboo can break the number: malformed shapes, impossible values and broken transports over
real HTTP each end the poll with one sentence naming Bamboo; the last good number stays; `--once` exits 3."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from publisher.config import load
from publisher.reader import Relisting
from publisher.service import Publisher
from tests import publisher_run as run
from tests.bamboo_sim import BambooSim
from tests.broker import Broker, wait_until
from tests.factories import at
from tests.sim_http import DEEP, Answer, raw, wire

BERLIN_NOW = at("2026-11-26 09:00")


def result(**fields: object) -> dict[str, object]:
    item: dict[str, object] = {"id": 90001, "lifeCycleState": "FINISHED", "deploymentState": "SUCCESS",
                               "startedDate": 1763740800000, "finishedDate": 1763741400000}  # fmt: skip
    item.update(fields)
    return item


def page(*items: object) -> bytes:
    return json.dumps({"size": len(items), "start-index": 0, "max-result": 100, "results": list(items)}).encode()


PROJECTS = "deploy/project/all"


class Counter:
    """A publisher in this process with a good first poll (2 weeks), then Bamboo turns hostile."""

    def __init__(self, tmp_path: Path, sim: BambooSim) -> None:
        self.sim = sim
        self.env = sim.add_env("Payments", "Production")
        sim.deploy(self.env, at("2026-11-06 16:42"), at("2026-11-06 16:51"))
        sim.now = lambda: BERLIN_NOW
        cfg = tmp_path / "p.yaml"
        cfg.write_text(
            f"timezone: Europe/Berlin\nstate_file: {tmp_path / 'state.json'}\n"
            f"bamboo: {{url: '{sim.url}', token: sim-token, timeout: 2}}\n"
        )
        c = load(cfg)
        self.pub = Publisher(c, c.make_sources(), lambda: BERLIN_NOW)
        assert self.pub.poll() is True and self.weeks() == b"2"
        sim.deploy(self.env, at("2026-11-25 10:00"), at("2026-11-25 10:05"))  # news: the environment is read again

    def relisting_due(self) -> None:
        """As after a restart more than an hour after the last listing of deployment projects."""
        self.pub.relisting = Relisting()
        self.pub.state.sources["bamboo"].discovered_at = None

    @property
    def results(self) -> str:
        return f"deploy/environment/{self.env}/results"

    def weeks(self) -> bytes:
        return dict(self.pub.messages())["friday-deploy/weeks"]

    def fails(self) -> str:
        assert self.pub.poll() is False
        assert self.weeks() == b"2"  # the last good number stays
        error = json.loads(dict(self.pub.messages())["friday-deploy/state"])["error"]
        assert isinstance(error, str) and error.startswith(f"Bamboo at {self.sim.url}")
        for leak in ("Traceback", "Error(", "Retry(", "HTTPConnectionPool", "urllib3", "sim-token"):
            assert leak not in error
        assert len(error) < 400 and "\n" not in error
        return error


@pytest.fixture
def counter(tmp_path: Path, bamboo_sim: BambooSim) -> Counter:
    return Counter(tmp_path, bamboo_sim)


@pytest.fixture
def bamboo_sim() -> Iterator[BambooSim]:
    s = BambooSim().start()
    yield s
    s.stop()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (page(result(id="123")), "result id '123' is not a positive integer"),
        (page(result(id=3.5)), "result id 3.5 is not a positive integer"),
        (page(result(id=True)), "result id True is not a positive integer"),
        (page(result(lifeCycleState={"x": 1})), "unknown lifeCycleState"),
        (page(result(startedDate=1e20)), "not a time: 1e+20"),
        (page(result(startedDate="Friday")), "not a time: 'Friday'"),
        (page("a string"), "a result is str, not an object"),
        (json.dumps({"results": {"0": result()}}).encode(), "no 'results' list"),
        (b"[]", "no 'results' list"),
        (page(result()).replace(b'"id": 90001', b'"id": 1e400'), "the number 1e400"),
        (page(result()).replace(b'"startedDate": 1763740800000', b'"startedDate": Infinity'), "Infinity"),
        (DEEP, "nested"),
    ],
)
def test_malformed_results(counter: Counter, body: bytes, expected: str) -> None:
    counter.sim.handlers[counter.results] = raw(body)
    error = counter.fails()
    assert "the results of environment 'Production'" in error and expected in error, error


def test_results_never_ending_in_pages(counter: Counter) -> None:
    """A server that ignores start-index: the same page again and again, each full."""
    hour, top = 3_600_000, 1_795_564_800_000  # 2026-11-25 00:00 UTC, then an hour older each: all news
    items = [result(id=80000 + i, startedDate=top - i * hour, finishedDate=top - i * hour + 60_000)
             for i in range(100)]  # fmt: skip
    counter.sim.handlers[counter.results] = raw(page(*items))
    assert "sent the same page of environment 'Production' of 'Payments' twice" in counter.fails()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (raw(json.dumps({"name": "P", "environments": {"id": 1}}).encode()), "a dict instead of a list"),
        (raw(json.dumps([{"name": "P", "environments": {"0": {"id": 1}}}]).encode()), "'environments' of project"),
        (raw(json.dumps([{"name": "P", "environments": [{"id": "7", "name": "Production"}]}]).encode()),
         "environment id '7' is not a positive integer"),
        (raw(json.dumps([["P"]]).encode()), "a project is list, not an object"),
        (raw(b"<html><title>Log in</title></html>", ctype="text/html"), "HTML page"),
    ],
)  # fmt: skip
def test_malformed_project_lists(tmp_path: Path, bamboo_sim: BambooSim, answer: Answer, expected: str) -> None:
    c = Counter(tmp_path, bamboo_sim)
    c.sim.handlers[PROJECTS] = answer
    c.relisting_due()
    assert expected in c.fails()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (wire(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
         "broken"),
        (wire(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
              b"Content-Length: 12\r\n\r\nnot gzip....."), "broken"),
        (wire(b"HTTP/1.1 302 Found\r\nLocation: /rest/api/latest/deploy/project/all\r\nContent-Length: 0\r\n\r\n"),
         "redirect"),
    ],
)  # fmt: skip
def test_broken_transports(tmp_path: Path, bamboo_sim: BambooSim, answer: Answer, expected: str) -> None:
    c = Counter(tmp_path, bamboo_sim)
    c.sim.handlers[PROJECTS] = answer
    c.relisting_due()
    assert expected in c.fails()


# --- the command line: exit 3 and one sentence, never a traceback -------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        raw(json.dumps({"name": "P", "environments": {"id": 1}}).encode()),
        raw(DEEP),
        wire(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ],
)
def test_once_exits_3_with_one_sentence(tmp_path: Path, bamboo: BambooSim, broker: Broker, answer: Answer) -> None:
    bamboo.handlers[PROJECTS] = answer
    r = run.fdc("publisher", "-c", str(run.config(tmp_path, bamboo, broker.port)), "--once")
    assert r.returncode == 3, r.stderr
    problems = [line for line in r.stderr.splitlines() if " ERROR " in line or line.startswith("fdc publisher:")]
    assert problems and all(f"Bamboo at {bamboo.url}" in line for line in problems), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_sigterm_in_the_middle_of_a_slow_answer_stops_at_once(
    tmp_path: Path, bamboo: BambooSim, broker: Broker
) -> None:
    """A poll stuck on a server that sends one byte a second: SIGTERM still publishes offline and saves."""
    cfg = run.config(tmp_path, bamboo, broker.port)
    cfg.write_text(cfg.read_text().replace("timeout: 3", "timeout: 60"))
    entered: list[bool] = []

    def trickle(h: BaseHTTPRequestHandler) -> None:
        entered.append(True)
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(120):
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    bamboo.handlers[PROJECTS] = trickle
    proc = run.spawn("publisher", "-c", str(cfg))
    try:
        wait_until(lambda: bool(entered), timeout=30, what="the slow answer to start")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)  # the deadline would be minutes: this proves it is not waited for
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "received SIGTERM: stopping" in err and "stopped: published offline and saved the state" in err
    assert "Traceback" not in err
    assert (tmp_path / "state" / "state.json").exists()


def test_sighup_stops_too(tmp_path: Path, bamboo: BambooSim, broker: Broker) -> None:
    proc = run.spawn("publisher", "-c", str(run.config(tmp_path, bamboo, broker.port)))
    try:
        wait_until(lambda: (tmp_path / "state" / "state.json").exists(), timeout=30, what="the first poll")
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "received SIGHUP: stopping" in err


def test_a_server_that_echoes_the_token_never_gets_it_into_the_state(counter: Counter) -> None:
    """The sentence shows (a shortened form of) what was sent; neither the token nor its start is published."""
    counter.sim.handlers[counter.results] = raw(page(result(lifeCycleState="sim-token")))
    error = counter.fails()
    assert "unknown lifeCycleState '***'" in error
    long_token = "tok-" + "x" * 60  # longer than a sentence shows: its start must not be published either
    from common.logs import REDACT

    REDACT.add([long_token])
    counter.sim.handlers[counter.results] = raw(page(result(lifeCycleState=long_token)))
    error = counter.fails()
    assert "tok-xxxx" not in error and "***" in error
