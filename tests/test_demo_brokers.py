"""Both of the demo's brokers — the project's mosquitto and the embedded amqtt — behave the same for what the
demo shows, checked with the real `mosquitto_pub`/`mosquitto_sub` clients: users and passwords, the ACL,
anonymous refused, retained messages once, QoS 1 publishes never lost."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import broker as demo_broker
from demo.acl import Acl
from tests.broker import free_port, wait_until

NODE = "demo-display"
PW = demo_broker.PASSWORD


@pytest.fixture(params=["mosquitto", "embedded"])
def demo(request: pytest.FixtureRequest) -> Iterator[demo_broker.DemoBroker]:
    # A folder of its own under /tmp as the demo makes it: a root-started mosquitto drops to its own user,
    # which cannot enter pytest's private tmp_path.
    workdir = Path(tempfile.mkdtemp(prefix="fdc-test-brokers-"))
    b = demo_broker.start(workdir, free_port(), request.param, (NODE,))
    try:
        assert b.kind == request.param
        yield b
    finally:
        b.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def pub(b: demo_broker.DemoBroker, user: str | None, topic: str, message: str, *extra: str) -> None:
    auth = ["-u", user, "-P", PW] if user else []
    cmd = ["mosquitto_pub", "-p", str(b.port), *auth, "-q", "1", "-t", topic, "-m", message, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr


class Sub:
    """A running `mosquitto_sub -v`; `lines` grows as messages arrive."""

    def __init__(self, b: demo_broker.DemoBroker, user: str, *args: str) -> None:
        cmd = ["mosquitto_sub", "-p", str(b.port), "-u", user, "-P", PW, "-q", "1", "-v", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        self.reader = threading.Thread(target=lambda: self.lines.extend(x.rstrip("\n") for x in stdout), daemon=True)
        self.reader.start()

    def wait_for(self, line: str, timeout: float = 15) -> list[str]:
        wait_until(lambda: line in self.lines, timeout, f"{line!r} from mosquitto_sub (got {self.lines})")
        return list(self.lines)

    def has(self, line: str, timeout: float) -> bool:
        try:
            self.wait_for(line, timeout)
        except AssertionError:
            return False
        return True

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(5)


def barrier(b: demo_broker.DemoBroker, sub: Sub, mark: str) -> list[str]:
    """Everything `sub` received before a fresh message: what the broker sent it so far, without sleeping.
    Sent again until it arrives, since mosquitto_sub may not have subscribed yet."""
    line = f"friday-deploy/weeks {mark}"
    for _ in range(30):
        pub(b, "operator", "friday-deploy/weeks", mark)
        if sub.has(line, 0.5):
            lines = list(sub.lines)
            return lines[: lines.index(line)]
    raise AssertionError(f"{line!r} never reached mosquitto_sub (got {sub.lines})")


@pytest.mark.parametrize("user", [None, "operator"])
def test_anonymous_and_wrong_passwords_are_refused(demo: demo_broker.DemoBroker, user: str | None) -> None:
    auth = ["-u", user, "-P", "wrong"] if user else []
    r = subprocess.run(["mosquitto_sub", "-p", str(demo.port), *auth, "-t", "#", "-C", "1", "-W", "5"],
                       capture_output=True, text=True, timeout=15)  # fmt: skip
    assert r.returncode == 5  # CONNACK "not authorised", not a timeout (27)
    assert "not authorised" in r.stderr


def test_every_demo_user_logs_in_with_the_demo_password(demo: demo_broker.DemoBroker) -> None:
    for user in (*demo_broker.USERS, NODE):
        pub(demo, user, f"friday-deploy/displays/{user}/status", "hello")


def test_the_acl_decides_who_may_write_the_number_and_read_discovery(demo: demo_broker.DemoBroker) -> None:
    pub(demo, "publisher", "homeassistant/sensor/friday-deploy/weeks/config", "{}", "-r")
    pub(demo, "publisher", "friday-deploy/weeks", "3", "-r")
    watcher = Sub(demo, "homeassistant", "-t", "friday-deploy/#", "-t", "homeassistant/#")
    operator = Sub(demo, "publisher", "-t", "#")
    try:
        watcher.wait_for("homeassistant/sensor/friday-deploy/weeks/config {}")
        operator.wait_for("friday-deploy/weeks 3")
        pub(demo, NODE, "friday-deploy/weeks", "99", "-r")  # a display may not change the number: dropped
        pub(demo, NODE, "friday-deploy/displays/other-node/status", "online", "-r")  # nor pose as another
        pub(demo, NODE, f"friday-deploy/displays/{NODE}/status", "online", "-r")  # its own: fine
        pub(demo, "operator", "friday-deploy/state", "{}")  # the operator sets only the number
        seen = barrier(demo, operator, "42")
        assert "friday-deploy/weeks 99" not in seen and "friday-deploy/state {}" not in seen
        assert "friday-deploy/displays/other-node/status online" not in seen
        assert f"friday-deploy/displays/{NODE}/status online" in seen
        assert not any(line.startswith("homeassistant/") for line in operator.lines)  # discovery: HA's to read
        assert "friday-deploy/weeks 42" in watcher.wait_for("friday-deploy/weeks 42")
    finally:
        watcher.close()
        operator.close()


def test_retained_messages_arrive_once_per_subscription(demo: demo_broker.DemoBroker) -> None:
    pub(demo, "publisher", "friday-deploy/weeks", "3", "-r")
    pub(demo, "publisher", "friday-deploy/state", '{"weeks": 3}', "-r")
    first = Sub(demo, "homeassistant", "-t", "friday-deploy/#")
    try:
        first.wait_for('friday-deploy/state {"weeks": 3}')
        # amqtt on its own sends a connecting client the retained messages of every filter anyone subscribed to
        second = Sub(demo, NODE, "-t", "friday-deploy/weeks")
        try:
            assert barrier(demo, second, "marker-1") == ["friday-deploy/weeks 3"]
        finally:
            second.close()
        third = Sub(demo, "publisher", "-t", "friday-deploy/#")
        try:
            retained = sorted(barrier(demo, third, "marker-2"))  # the markers were not retained: 3 still is
            assert retained == ['friday-deploy/state {"weeks": 3}', "friday-deploy/weeks 3"]
        finally:
            third.close()
    finally:
        first.close()


def test_qos1_publishes_are_never_lost(demo: demo_broker.DemoBroker) -> None:
    sub = Sub(demo, "homeassistant", "-t", "friday-deploy/weeks")
    try:
        barrier(demo, sub, "start")
        numbers = [str(n) for n in range(300)]
        cmd = ["mosquitto_pub", "-p", str(demo.port), "-u", "operator", "-P", PW, "-q", "1", "-t",
               "friday-deploy/weeks", "-l"]  # fmt: skip
        subprocess.run(cmd, input="\n".join(numbers) + "\n", text=True, check=True, timeout=30)
        lines = sub.wait_for("friday-deploy/weeks 299")
        got = [
            line.removeprefix("friday-deploy/weeks ") for line in lines[lines.index("friday-deploy/weeks start") + 1 :]
        ]
        assert got == numbers
    finally:
        sub.close()


def leave_persistent_session(b: demo_broker.DemoBroker, user: str, client_id: str) -> None:
    """Subscribe with a persistent session, then leave cleanly: -C 1 sends DISCONNECT after one message."""
    sub = Sub(b, user, "-c", "-i", client_id, "-C", "1", "-t", "friday-deploy/weeks")
    barrier(b, sub, "subscribed")
    assert sub.proc.wait(15) == 0
    sub.close()


def test_qos1_messages_wait_for_a_persistent_session(demo: demo_broker.DemoBroker) -> None:
    leave_persistent_session(demo, "homeassistant", "fdc-test-persistent")
    pub(demo, "operator", "friday-deploy/weeks", "while-away")
    back = Sub(demo, "homeassistant", "-c", "-i", "fdc-test-persistent", "-t", "friday-deploy/weeks")
    try:
        assert "friday-deploy/weeks while-away" in barrier(demo, back, "back")
    finally:
        back.close()


def test_the_client_id_is_the_user_name(demo: demo_broker.DemoBroker) -> None:
    """use_username_as_clientid: whatever id a client sends, its session is its user's."""
    leave_persistent_session(demo, "homeassistant", "one")
    pub(demo, "operator", "friday-deploy/weeks", "while-away")
    other_id = Sub(demo, "homeassistant", "-c", "-i", "two", "-t", "friday-deploy/weeks")
    try:
        assert "friday-deploy/weeks while-away" in barrier(demo, other_id, "back")
    finally:
        other_id.close()


def test_the_acl_file_is_read_as_mosquitto_reads_it() -> None:
    acl = Acl.parse(
        "topic read public/#\n"  # anonymous
        "pattern readwrite room/%u/#\n"
        "user alice\ntopic write cmd/+\ntopic deny cmd/secret\ntopic things/#\n"
    )
    assert acl.allowed(None, "c", "public/x", "read") and not acl.allowed(None, "c", "public/x", "write")
    assert acl.allowed("alice", "c", "cmd/go", "write") and not acl.allowed("alice", "c", "cmd/go", "read")
    assert not acl.allowed("alice", "c", "cmd/secret", "write")  # deny wins
    assert acl.allowed("alice", "c", "things/a/b", "read") and acl.allowed("alice", "c", "things/a", "write")
    assert acl.allowed("bob", "c", "room/bob/x", "write") and not acl.allowed("bob", "c", "room/alice/x", "read")
    assert not acl.allowed("a/b", "c", "room/a/b/x", "read")  # a name with / never widens a pattern
    assert not acl.allowed("bob", "c", "public/x", "read")  # anonymous rules are only for anonymous clients
