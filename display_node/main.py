"""`fdc display`: load the config, open the display, run the node until SIGTERM/SIGINT.

Everything a person can fix (config, missing SPI, permissions) ends here as one sentence and exit code 2.
`--remove-discovery` needs no display at all: it only clears the node's Home Assistant entities.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from common.config import ConfigError
from common.exits import EXIT_CONFIG, EXIT_OK, EXIT_UNREACHABLE
from common.logs import REDACT
from common.mqtt import MqttError, publish_and_leave
from display_node.config import DisplayConfig, load
from display_node.drivers import HardwareError, Terminal, TerminalLog, open_panel
from display_node.node import Node, discovery_messages

log = logging.getLogger("fdc.display")


def load_config(args: argparse.Namespace) -> DisplayConfig:
    config = load(args.config)
    driver = getattr(args, "driver", None)
    return config.with_driver(driver) if driver else config


def run(args: argparse.Namespace) -> int:
    """Run a display node; returns the process exit code."""
    try:
        config = load_config(args)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    REDACT.add([config.mqtt.password])
    if getattr(args, "remove_discovery", False):
        return remove_discovery(config)
    if config.web_listen is not None:
        print(f"fdc display: {args.config} is a web node's config (web:): run it with fdc web -c", file=sys.stderr)
        return EXIT_CONFIG
    try:
        panel = open_panel(config.display)
    except HardwareError as e:
        print(f"fdc display: {e}", file=sys.stderr)
        return EXIT_CONFIG
    stop = threading.Event()
    if panel.terminal is not None and panel.terminal.tty:
        keep_logs_out_of_the_drawing(panel.terminal, stop)
    from display_node.awtrix import AwtrixPanel

    if isinstance(panel, AwtrixPanel):  # the clock is told over the node's own MQTT link
        node = Node(config, panel, on_showing=panel.update)
        panel.attach(node.link)
    else:
        node = Node(config, panel)

    run_until_signalled(node, stop)
    return EXIT_OK


def run_until_signalled(node: Node, stop: threading.Event) -> None:
    """Run the node until SIGTERM, SIGINT or SIGHUP: it then publishes `offline` and leaves cleanly."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()
        node.wake()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    node.run(stop)


def keep_logs_out_of_the_drawing(term: Terminal, stop: threading.Event) -> None:
    """The terminal driver redraws in place: a log line written across it would garble the matrix. When the
    logs would go to that same terminal they go to the drawing's footer instead (the latest few lines);
    `2>FILE` keeps every line. `FDC_TERMINAL_STATUS_FILE` (set by `fdc demo`) names a file whose lines are
    shown there too, re-read twice a second."""
    if sys.stderr.isatty():
        handler = TerminalLog(term)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        handler.addFilter(REDACT)
        root = logging.getLogger()
        root.handlers[:] = [handler]
        log.info("logs: the latest lines show here, under the matrix; run with 2>display.log to keep all of them")
    status_file = os.environ.get("FDC_TERMINAL_STATUS_FILE")
    if status_file:

        def follow() -> None:
            while not stop.wait(0.5):
                with contextlib.suppress(OSError):  # not written yet: nothing to show
                    term.set_status(Path(status_file).read_text(errors="replace").splitlines())

        threading.Thread(target=follow, name="terminal-status", daemon=True).start()


def remove_discovery(config: DisplayConfig) -> int:
    """Publish empty retained discovery configs for this node: Home Assistant deletes its entities, no ghosts.

    A client id of its own, so that a node still running with the same config is not disconnected by it."""
    messages = discovery_messages(config, remove=True)
    if not messages:
        print("fdc display: homeassistant.enabled is false: nothing to remove", file=sys.stderr)
        return EXIT_OK
    try:
        publish_and_leave(config.mqtt, messages, "remove-discovery")
    except MqttError as e:
        print(f"fdc display: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"removed {len(messages)} Home Assistant discovery config(s) of display node {config.node_id!r}")
    return EXIT_OK
