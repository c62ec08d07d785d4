"""`fdc display`: load the config, open the display, run the node until SIGTERM/SIGINT.

Everything a person can fix (config, missing SPI, permissions) ends here as one sentence and exit code 2.
`--remove-discovery` needs no display at all: it only clears the node's Home Assistant entities.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from common.config import ConfigError
from common.exits import EXIT_CONFIG, EXIT_OK, EXIT_UNREACHABLE
from common.logs import REDACT
from common.mqtt import MqttError, publish_and_leave
from display_node.config import DisplayConfig, load
from display_node.drivers import HardwareError, open_panel
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
    try:
        panel = open_panel(config.display)
    except HardwareError as e:
        print(f"fdc display: {e}", file=sys.stderr)
        return EXIT_CONFIG
    node = Node(config, panel)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()
        node.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    node.run(stop)
    return EXIT_OK


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
