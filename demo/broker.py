"""The demo's broker: mosquitto from PATH with the project's own config and ACL (users made on the spot),
or the embedded pure-Python broker when mosquitto is not installed."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_MOSQUITTO = Path(__file__).resolve().parents[1] / "mosquitto"
PASSWORD = "demo"  # every demo user's password: the broker listens on 127.0.0.1 only
USERS = ("publisher", "operator", "homeassistant")


@dataclass
class DemoBroker:
    kind: str  # "mosquitto" or "embedded"
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the broker will: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found is None and Path("/usr/sbin/mosquitto").exists():
        found = "/usr/sbin/mosquitto"
    return found


FALLBACK_ACL = (  # installed from a wheel, without mosquitto/acl: its rules (tests/test_demo.py keeps them equal)
    "pattern read friday-deploy/#\n"
    "pattern read homeassistant/status\n"
    "pattern readwrite friday-deploy/displays/%u/#\n"
    "pattern write homeassistant/+/%u/#\n"
    "user publisher\n"
    "topic deny friday-deploy/displays/publisher/#\n"
    "topic deny homeassistant/+/publisher/#\n"
    "topic readwrite friday-deploy/weeks\n"
    "topic readwrite friday-deploy/state\n"
    "topic readwrite friday-deploy/status\n"
    "topic readwrite friday-deploy/record\n"
    "topic readwrite friday-deploy/events\n"
    "topic write homeassistant/#\n"
    "user homeassistant\n"
    "topic deny friday-deploy/displays/homeassistant/#\n"
    "topic deny homeassistant/+/homeassistant/#\n"
    "topic read homeassistant/#\n"
    "topic write homeassistant/status\n"
    "topic write friday-deploy/displays/+/brightness/set\n"
    "user operator\n"
    "topic deny friday-deploy/displays/operator/#\n"
    "topic deny homeassistant/+/operator/#\n"
    "topic deny homeassistant/status\n"
    "topic write friday-deploy/weeks\n"
    "user office-bridge\n"
    "topic deny friday-deploy/displays/office-bridge/#\n"
    "topic deny homeassistant/+/office-bridge/#\n"
    "topic write friday-deploy/displays/#\n"
)


def write_acl(conf_dir: Path) -> Path:
    """The project's mosquitto/acl, copied, so both brokers enforce the very same file."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    acl = conf_dir / "acl"
    if (PROJECT_MOSQUITTO / "acl").exists():
        shutil.copy(PROJECT_MOSQUITTO / "acl", acl)
    else:
        acl.write_text(FALLBACK_ACL)
    return acl


def project_config(workdir: Path, port: int, nodes: tuple[str, ...]) -> Path:
    """The project's mosquitto.conf and acl with only paths and the listener rewritten; users with PASSWORD."""
    conf_dir, data = workdir / "mosquitto", workdir / "mosquitto" / "data"
    data.mkdir(parents=True, exist_ok=True)
    source = PROJECT_MOSQUITTO / "mosquitto.conf"
    if source.exists():
        text = source.read_text().replace("/mosquitto/config", str(conf_dir)).replace("/mosquitto/data", str(data))
        text = re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", text, flags=re.M)
        text = re.sub(r"^include_dir .*$", "", text, flags=re.M)
    else:  # installed from a wheel: the same rules, written out
        text = (f"allow_anonymous false\npassword_file {conf_dir}/passwd\nacl_file {conf_dir}/acl\n"
                f"persistence false\nlog_dest stderr\nset_tcp_nodelay true\nlistener {port} 127.0.0.1\n")  # fmt: skip
    write_acl(conf_dir)
    conf = conf_dir / "mosquitto.conf"
    conf.write_text(text)
    passwd = conf_dir / "passwd"
    passwd.write_text("")
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    for user in (*USERS, *nodes):
        subprocess.run([tool, "-b", str(passwd), user, PASSWORD], check=True, capture_output=True)
    if os.geteuid() == 0:  # a root-started mosquitto drops to the `mosquitto` user, which must read these
        try:
            owner = pwd.getpwnam("mosquitto")
        except KeyError:
            owner = None
        if owner is not None:
            for path in (workdir, conf_dir, data, conf, passwd, conf_dir / "acl"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
    return conf


def embedded_config(workdir: Path, nodes: tuple[str, ...]) -> tuple[Path, Path]:
    """The embedded broker's users file (`user:password`, the same users as mosquitto's) and the same ACL."""
    conf_dir = workdir / "embedded"
    acl = write_acl(conf_dir)
    users = conf_dir / "users"
    users.write_text("".join(f"{user}:{PASSWORD}\n" for user in (*USERS, *nodes)))
    return users, acl


def wait_accepting(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the broker exited with code {proc.returncode}: see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the broker did not accept connections on port {port} within {timeout:g} s: see {log}")


def start(workdir: Path, port: int, prefer: str, nodes: tuple[str, ...]) -> DemoBroker:
    """`prefer`: auto (mosquitto when installed), mosquitto, or embedded."""
    mosquitto = find_mosquitto() if prefer in ("auto", "mosquitto") else None
    if prefer == "mosquitto" and mosquitto is None:
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto, or use --broker embedded")
    log = workdir / "broker.log"
    with log.open("wb") as out:
        if mosquitto is not None:
            conf = project_config(workdir, port, nodes)
            proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=out, stderr=out, start_new_session=True)
            kind = "mosquitto"
        else:
            users, acl = embedded_config(workdir, nodes)
            cmd = [sys.executable, "-m", "demo.embedded_broker", str(port), str(users), str(acl)]
            proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
            kind = "embedded"
    broker = DemoBroker(kind, port, proc, log)
    try:
        wait_accepting(port, proc, log)
    except RuntimeError:
        broker.stop()
        raise
    return broker
