"""`fdc publisher`: wires config, sources, state and MQTT together. No logic of its own."""

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
from publisher import config, push
from publisher.loop import make_link, run_forever
from publisher.report import sentence, state_payload
from publisher.service import Publisher

log = logging.getLogger("fdc.publisher")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config.load(args.config)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    REDACT.add(cfg.secrets)
    for warning in cfg.warnings:
        log.warning("%s: %s", args.config, warning)
    where = "the machine's local zone; set `timezone:` to pin it" if cfg.timezone_from_machine else "from the config"
    log.info("timezone %s (%s); counting %s", cfg.timezone, where, ", ".join(cfg.days))
    sources = cfg.make_sources()
    try:
        pub = Publisher(cfg, sources)
        if getattr(args, "remove_discovery", False):
            return _remove_discovery(pub)
        if args.once:
            return _once(cfg, pub, dry_run=args.dry_run, as_json=args.json)
        log.info("reading %s; publishing on %s/%s/", "; ".join(cfg.summaries()), cfg.mqtt.where, cfg.topic_prefix)
        return _serve(pub)
    finally:
        for source in sources:
            source.close()


def _once(cfg: config.PublisherConfig, pub: Publisher, *, dry_run: bool, as_json: bool) -> int:
    ok = pub.poll()
    if dry_run:
        if as_json:
            print(json.dumps(state_payload(pub.count, pub.tz, pub.clock(), cfg.source, pub.error, pub.story), indent=2))
        else:
            print(sentence(pub.count, cfg.days, pub.tz, pub.error, pub.titles))
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
    if not ok:
        print(f"fdc publisher: {pub.error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if (problem := pub.save()) is not None:  # the next cron run would start cold and re-read everything
        print(f"fdc publisher: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


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


def _serve(pub: Publisher) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()
        pub.cancel()  # a poll in the middle of a slow answer ends now, not after its deadline

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    link = make_link(pub)
    receiver = None
    if push.NAME in dict(pub.cfg.sections):  # `webhooks:`: the HTTP receiver runs beside the MQTT loop
        from publisher import receiver as web

        def announce() -> None:
            """A push changes `weeks` and `state` only: re-sending `status` first would wake every display node
            for nothing, and the node's frame cap (20/s) would then hold the new number back by up to 50 ms."""
            with pub.publishing:
                for topic, payload in pub.messages():
                    if topic != pub.topics.status:
                        link.publish(topic, payload)

        pub.announce = announce
        try:
            receiver = web.start(pub)
        except web.ReceiverError as e:
            print(f"fdc publisher: {e}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        run_forever(pub, link, stop)
    finally:
        if receiver is not None:
            receiver.stop()
    return EXIT_OK
