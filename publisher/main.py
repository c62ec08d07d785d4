"""`fdc publisher`: wires config, Bamboo, state and MQTT together. No logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType

from common.config import ConfigError
from common.exits import EXIT_CONFIG, EXIT_OK, EXIT_UNREACHABLE
from common.logs import REDACT
from common.mqtt import MqttError, publish_and_leave
from publisher import config
from publisher.bamboo import BambooAuth, BambooClient
from publisher.filesource import FileSource
from publisher.poll import BambooSource
from publisher.report import sentence, state_payload
from publisher.service import Publisher, make_link, run_forever
from publisher.source import Source

log = logging.getLogger("fdc.publisher")


def make_source(cfg: config.PublisherConfig) -> Source:
    if cfg.source == "file":
        assert cfg.file_path is not None
        return FileSource(cfg.file_path, cfg.projects, cfg.environments)
    assert cfg.bamboo_url is not None
    auth = BambooAuth(cfg.bamboo_token, cfg.bamboo_username, cfg.bamboo_password)
    client = BambooClient(cfg.bamboo_url, auth, verify=cfg.verify, timeout=cfg.timeout)
    return BambooSource(client, cfg.projects, cfg.environments)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config.load(args.config)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    REDACT.add(cfg.secrets)
    where = "the machine's local zone; set `timezone:` to pin it" if cfg.timezone_from_machine else "from the config"
    log.info("timezone %s (%s); counting %s", cfg.timezone, where, ", ".join(cfg.days))
    source = make_source(cfg)
    try:
        pub = Publisher(cfg, source)
        if getattr(args, "remove_discovery", False):
            return _remove_discovery(pub)
        if args.once:
            return _once(cfg, pub, dry_run=args.dry_run, as_json=args.json)
        return _serve(cfg, pub)
    finally:
        source.close()


def _once(cfg: config.PublisherConfig, pub: Publisher, *, dry_run: bool, as_json: bool) -> int:
    ok = pub.poll()
    if dry_run:
        if as_json:
            print(json.dumps(state_payload(pub.count, pub.tz, pub.clock(), pub.source.name, pub.error), indent=2))
        else:
            print(sentence(pub.count, cfg.days, pub.tz, pub.error))
        return EXIT_OK if ok else EXIT_UNREACHABLE
    link = make_link(pub, announce=False)  # published below, once, and waited for
    link.start()
    try:
        link.wait_connected(timeout=max(10.0, cfg.timeout))
        link.publish_all(pub.discovery() + pub.messages())
    except MqttError as e:
        print(f"fdc publisher: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        link.stop()  # a clean disconnect: `status` stays `online` between cron runs
    if ok:
        pub.save()
    else:
        print(f"fdc publisher: {pub.error}", file=sys.stderr)
    return EXIT_OK if ok else EXIT_UNREACHABLE


def _remove_discovery(pub: Publisher) -> int:
    """Publish empty retained discovery configs: Home Assistant deletes the entities, no ghosts stay.

    Not through the service's link: its connect hook would re-announce over the removals.
    """
    messages = pub.discovery(remove=True)
    if not messages:
        print("fdc publisher: homeassistant.enabled is false: nothing to remove", file=sys.stderr)
        return EXIT_OK
    try:
        publish_and_leave(pub.cfg.mqtt, messages, "remove-discovery")
    except MqttError as e:
        print(f"fdc publisher: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"removed {len(messages)} Home Assistant discovery config(s)")
    return EXIT_OK


def _serve(cfg: config.PublisherConfig, pub: Publisher) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_forever(pub, make_link(pub), stop)
    return EXIT_OK
