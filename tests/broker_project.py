"""The project's own mosquitto setup (mosquitto/) run for real, with only paths and ports rewritten.

`ProjectBroker` copies the committed mosquitto/ folder into a temporary directory, switches optional parts
on with the very `sed` commands the README gives, points the container paths (/mosquitto/config,
/mosquitto/data) at the copy and the listeners at free loopback ports, makes the users with the project's
make-passwords.sh (and certificates with make-certs.sh), then starts mosquitto on that configuration.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.broker import free_port, mosquitto_path, wait_until

ROOT = Path(__file__).resolve().parents[1]
MOSQUITTO_DIR = ROOT / "mosquitto"
PREFIX = "friday-deploy"

# The one-line switches, exactly as the README prints them (run in the project's root folder).
TLS_ON = "sed -i 's|^#include_dir /mosquitto/config/tls$|include_dir /mosquitto/config/tls|' mosquitto/mosquitto.conf"
BRIDGE_ON = (
    "sed -i 's|^#include_dir /mosquitto/config/bridge$|include_dir /mosquitto/config/bridge|' mosquitto/mosquitto.conf"
)
# Files a deployment makes and never commits: not copied from a developer's working tree.
NOT_COMMITTED = {"passwd", "secrets", "certs"}


def broker_user() -> pwd.struct_passwd | None:
    """The user a root-started mosquitto drops to (as in the container); None when it keeps running as us."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        return None


def run(cmd: str | list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command (a shell line or an argv list); fail with its output if it fails."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{cmd!r} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class ProjectBroker:
    """mosquitto running the project's mosquitto.conf + acl from a copy in a fresh temporary directory."""

    def __init__(self, *, tls: bool = False, nodes: tuple[str, ...] = (), name: str = "broker") -> None:
        self.base = Path(tempfile.mkdtemp(prefix=f"fdc-{name}-"))
        # Root-run mosquitto drops to the `mosquitto` user after reading its config, passwords and keys,
        # as it does in the eclipse-mosquitto image: that user must reach the data folder.
        os.chmod(self.base, 0o755)
        self.dir = self.base / "mosquitto"  # the copy of mosquitto/, a project root's `mosquitto` folder
        self.data = self.base / "data"
        self.log = self.base / "mosquitto.log"
        self.port = free_port()
        self.tls_port = free_port()
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        shutil.copytree(MOSQUITTO_DIR, self.dir, ignore=lambda d, names: [n for n in names if n in NOT_COMMITTED])
        self.data.mkdir()
        owner = broker_user()
        if owner is not None:
            os.chown(self.data, owner.pw_uid, owner.pw_gid)
        if tls:
            self.switch_on(TLS_ON, "tls")
            # As the README says for the container: the key goes to the user the broker runs as.
            give = ["--owner", owner.pw_name] if owner is not None else []
            run([str(self.dir / "make-certs.sh"), *give, "localhost", "127.0.0.1"], self.base)
        run([str(self.dir / "make-passwords.sh"), *nodes], self.base)

    def switch_on(self, command: str, part: str) -> None:
        """Run the README's one-line switch for an optional part and check that it did switch it on."""
        run(command, self.base)
        active = [line for line in (self.dir / "mosquitto.conf").read_text().splitlines() if line.startswith("include")]
        assert f"include_dir /mosquitto/config/{part}" in active, f"{command!r} did not switch {part} on"

    # --- configuration ------------------------------------------------------------------------------------
    def rewrite(self, path: Path, replacements: list[tuple[str, str]]) -> None:
        """Replace each text exactly once in `path`: a config that no longer has it fails loudly."""
        text = path.read_text()
        for old, new in replacements:
            count = text.count(old)
            assert count == 1, f"{path.name}: expected {old!r} once, found it {count} times"
            text = text.replace(old, new)
        path.write_text(text)

    def localise(self) -> None:
        """Container paths → the copy; ports 1883/8883 → free loopback ports. Nothing else changes."""
        for conf in [self.dir / "mosquitto.conf", *self.dir.glob("*/*.conf")]:
            text = conf.read_text()
            text = text.replace("/mosquitto/config", str(self.dir)).replace("/mosquitto/data", str(self.data))
            conf.write_text(text)
        self.rewrite(self.dir / "mosquitto.conf", [("\nlistener 1883\n", f"\nlistener {self.port} 127.0.0.1\n")])
        self.rewrite(self.dir / "tls" / "tls.conf", [("\nlistener 8883\n", f"\nlistener {self.tls_port} 127.0.0.1\n")])

    def password(self, user: str) -> str:
        return (self.dir / "secrets" / user).read_text().strip()

    @property
    def ca_file(self) -> str:
        return str(self.dir / "certs" / "ca.crt")

    # --- process ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.proc is None and not (self.base / ".localised").exists():
            self.localise()
            (self.base / ".localised").touch()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [mosquitto_path(), "-c", str(self.dir / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT
            )
        ports = [self.port, self.tls_port] if self.tls else [self.port]

        def accepting() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log.read_text()}")
            for port in ports:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
                except OSError:
                    return False
            return True

        wait_until(accepting, 10, f"mosquitto on ports {ports}")

    def stop(self) -> None:
        """SIGTERM, as `docker compose stop` sends: mosquitto saves its retained messages and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # --- clients --------------------------------------------------------------------------------------------
    def client(
        self, user: str | None, password: str | None = None, *, ca_file: str | None = None, port: int | None = None
    ) -> Client:
        """A connected client as `user` (its password from secrets/ unless given); raises if refused."""
        if user is not None and password is None:
            password = self.password(user)
        c = Client(user, password, ca_file=ca_file)
        c.connect(port or (self.tls_port if ca_file else self.port))
        return c


class Refused(Exception):
    def __init__(self, reason: ReasonCode) -> None:
        super().__init__(str(reason))
        self.reason = reason


class Client:
    """A paho client logged in as one user that records what it receives."""

    def __init__(self, user: str | None, password: str | None, *, ca_file: str | None = None) -> None:
        self.user = user
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._connack: ReasonCode | None = None
        self._connected = threading.Event()
        self._subscribed: set[int] = set()
        self.mqtt = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-{user or 'anonymous'}-{id(self):x}",
            protocol=mqtt.MQTTv311,
        )
        if user is not None:
            self.mqtt.username_pw_set(user, password)
        if ca_file is not None:
            self.mqtt.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_subscribe = self._on_subscribe
        self.mqtt.on_message = self._on_message

    def _on_connect(self, c: mqtt.Client, u: object, flags: object, rc: ReasonCode, props: object) -> None:
        self._connack = rc
        self._connected.set()

    def _on_subscribe(self, c: mqtt.Client, u: object, mid: int, rcs: object, props: object) -> None:
        with self._lock:
            self._subscribed.add(mid)

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def connect(self, port: int) -> None:
        self.mqtt.connect("127.0.0.1", port, keepalive=30)  # a failed TLS verification raises here
        self.mqtt.loop_start()
        try:
            wait_until(self._connected.is_set, 10, f"a CONNACK for {self.user!r}")
        except AssertionError:
            self.close()
            raise
        assert self._connack is not None
        if self._connack.is_failure:
            self.close()
            raise Refused(self._connack)

    def subscribe(self, *topics: str) -> Client:
        result, mid = self.mqtt.subscribe([(t, 1) for t in topics])
        assert result == mqtt.MQTT_ERR_SUCCESS

        def done() -> bool:
            with self._lock:
                return mid in self._subscribed

        wait_until(done, 10, f"the SUBACK for {topics}")
        return self

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's PUBACK (which mosquitto also sends when it drops it)."""
        info = self.mqtt.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), f"no PUBACK for {topic}"

    def received(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in self.received(topic)]

    def wait_for(self, topic: str, pred: Callable[[mqtt.MQTTMessage], bool] = lambda m: True) -> mqtt.MQTTMessage:
        found: list[mqtt.MQTTMessage] = []

        def check() -> bool:
            found[:] = [m for m in self.received(topic) if pred(m)]
            return bool(found)

        wait_until(check, 15, f"{self.user!r} to receive a matching message on {topic} (got {self.payloads(topic)})")
        return found[0]

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def weeks_topic() -> str:
    return f"{PREFIX}/weeks"


def display_topic(node: str, leaf: str) -> str:
    return f"{PREFIX}/displays/{node}/{leaf}"
