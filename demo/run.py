"""`fdc demo`: a broker, the publisher fed with a sample history (or a real Bamboo), and a display node that
draws the LED matrix in this terminal. Ctrl-C stops all three, in order, and leaves nothing running."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from common.exits import EXIT_CONFIG, EXIT_OK
from demo import broker as demo_broker
from demo.history import sample_history
from publisher.config import local_zone_name

DEFAULT_PORT = 18830
NODE_ID = "demo-display"
STATUS_USER = "demo-status"  # the demo's own reader of <prefix>/state (the ACL lets every user read it)
PREFIX = "friday-deploy"


def write_configs(workdir: Path, port: int, tz: str, bamboo_url: str | None) -> tuple[Path, Path]:
    history = workdir / "deployments.yaml"
    if bamboo_url is None:
        entries = sample_history(datetime.now(ZoneInfo(tz)).date(), ZoneInfo(tz))
        history.write_text("# The demo's sample history: edit it and watch the number change.\n"
                           + yaml.safe_dump(entries, sort_keys=False))  # fmt: skip
        source = {"file": {"path": str(history)}}
    else:
        source = {"bamboo": {"url": bamboo_url}}  # the token comes from FDC_BAMBOO_TOKEN
    mqtt = {"host": "127.0.0.1", "port": port, "password": demo_broker.PASSWORD}
    publisher = {
        "timezone": tz,
        "topic_prefix": PREFIX,
        "poll_interval": 60,
        "state_file": str(workdir / "state.json"),
        **source,
        "mqtt": {**mqtt, "username": "publisher", "client_id": "fdc-demo-publisher"},
    }
    display = {
        "node_id": NODE_ID,
        "topic_prefix": PREFIX,
        "mqtt": {**mqtt, "username": NODE_ID},
        "display": {"driver": "terminal", "cascaded": 4, "block_orientation": -90},  # a common FC-16 module
    }
    pub_cfg, disp_cfg = workdir / "publisher.yaml", workdir / "display.yaml"
    pub_cfg.write_text(yaml.safe_dump(publisher, sort_keys=False))
    disp_cfg.write_text(yaml.safe_dump(display, sort_keys=False))
    return pub_cfg, disp_cfg


def instructions(b: demo_broker.DemoBroker, workdir: Path, bamboo_url: str | None) -> str:
    p, pw = b.port, demo_broker.PASSWORD
    if b.kind == "mosquitto":
        kind = "mosquitto with the project's config and ACL"
    else:
        kind = "the embedded amqtt broker: the same users, passwords and ACL as the project's mosquitto"
    lines = [
        f"Friday Deploy Counter demo: broker on 127.0.0.1:{p} ({kind}),",
        f"  publisher reading {bamboo_url or workdir / 'deployments.yaml'}, display node '{NODE_ID}' below.",
        "Try it by hand in another terminal (each user logs in once: a second login replaces the first):",
        f"  mosquitto_sub -p {p} -u homeassistant -P {pw} -t '{PREFIX}/#' -v   # watch every topic",
        f"  mosquitto_pub -p {p} -u operator -P {pw} -r -t {PREFIX}/weeks -m 42   # show 42 until the next poll",
    ]
    if bamboo_url is None:
        lines.append(f"  edit {workdir / 'deployments.yaml'}: a deployment on a Friday resets the number to 0")
    lines += [
        f"Logs: {workdir}/{{publisher,display,broker}}.log (kept when something failed). Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


class StatusWatch:
    """What the publisher says on `<prefix>/state`, as lines under the matrix: above all why it shows `---`.

    Written to a file the display node's terminal driver shows (FDC_TERMINAL_STATUS_FILE); `failed` remembers
    that the publisher reported an error, so the demo keeps its logs."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.path = workdir / "status.txt"
        self.workdir = workdir
        self.failed = False
        self.error: str | None = None
        self.write([f"waiting for the publisher's first poll (its log: {workdir / 'publisher.log'})"])
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=STATUS_USER, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(STATUS_USER, demo_broker.PASSWORD)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{PREFIX}/state", qos=1)
        self.client.on_message = self.on_message
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def write(self, lines: list[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines))
        tmp.replace(self.path)

    def on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            state = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(state, dict):
            return
        self.write(self.describe(state))

    def describe(self, state: dict[str, Any]) -> list[str]:
        error, weeks = state.get("error"), state.get("weeks")
        log_file = self.workdir / "publisher.log"
        if error:
            self.failed, self.error = True, str(error)
            shown = "the last good number" if weeks is not None else "--- (no number yet)"
            return [f"publisher error: {error}", f"  the matrix shows {shown}; details in {log_file}"]
        if weeks is None:
            return [f"the publisher has no number to publish yet; see {log_file}"]
        return [f"publisher: {weeks} week(s) since {state.get('counted_from')} ({state.get('since')})"]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run(args: argparse.Namespace) -> int:
    if args.bamboo_url and not os.environ.get("FDC_BAMBOO_TOKEN"):
        print("fdc demo: --bamboo-url needs a personal access token in FDC_BAMBOO_TOKEN", file=sys.stderr)
        return EXIT_CONFIG
    tz = args.timezone or local_zone_name()
    workdir = Path(tempfile.mkdtemp(prefix="fdc-demo-"))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    b = publisher = display = status = None
    failed = False
    try:
        try:
            port = demo_broker.pick_port(args.port)
            b = demo_broker.start(workdir, port, args.broker, (NODE_ID, STATUS_USER))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            print(f"fdc demo: cannot start a broker: {e}", file=sys.stderr)
            failed = True
            return EXIT_CONFIG
        pub_cfg, disp_cfg = write_configs(workdir, b.port, tz, args.bamboo_url)
        fdc = [sys.executable, "-m", "fdc"]
        with (workdir / "publisher.log").open("wb") as log:
            publisher = subprocess.Popen([*fdc, "publisher", "-c", str(pub_cfg)], stdout=log, stderr=log,
                                         start_new_session=True)  # fmt: skip
        print(instructions(b, workdir, args.bamboo_url), flush=True)
        status = StatusWatch(b.port, workdir)
        driver = ["--driver", args.driver] if args.driver else []
        env = {**os.environ, "FDC_TERMINAL_STATUS_FILE": str(status.path)}
        with (workdir / "display.log").open("wb") as log:  # the terminal is for the matrix, logs go to a file
            display = subprocess.Popen([*fdc, "display", "-c", str(disp_cfg), *driver], stderr=log, env=env,
                                       start_new_session=True)  # fmt: skip
        while not stop.wait(0.2):
            for name, proc in (("publisher", publisher), ("display", display)):
                if proc.poll() is not None:
                    tail = (workdir / f"{name}.log").read_text(errors="replace").strip().splitlines()[-5:]
                    print(f"fdc demo: the {name} exited with code {proc.returncode}:", *tail, sep="\n  ",
                          file=sys.stderr)  # fmt: skip
                    failed = True
                    return 1
        return EXIT_OK
    finally:
        if status is not None:
            status.close()
            failed = failed or status.failed
        stop_process(display)
        stop_process(publisher)
        if b is not None:
            b.stop()
        print("\nfdc demo: stopped the display node, the publisher and the broker.", flush=True)
        if failed:
            why = f" (the publisher said: {status.error})" if status is not None and status.error else ""
            print(f"fdc demo: something failed{why}; the logs are kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
