"""The `fdc` console script: parses the command line and hands over to one service's main (the composition root).

Service modules are imported lazily so that `fdc display` on a Pi Zero does not pay for the publisher.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from common import __version__
from common.config import ConfigError, read_yaml
from common.exits import EXIT_CONFIG, EXIT_OK
from common.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fdc", description="Friday Deploy Counter: weeks since a Friday deployment")
    parser.add_argument("-V", "--version", action="version", version=f"fdc {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --log-level is accepted after the subcommand too (`fdc publisher -c x --log-level debug`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, choices=["debug", "info", "warning", "error"])

    p = sub.add_parser("publisher", parents=[common], help="poll Bamboo and keep the number published on MQTT")
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="publisher YAML config")
    p.add_argument("--once", action="store_true", help="one poll, publish, exit")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=(
            "with --once: poll once and print the number and the deployment that set it; "
            "publishes nothing on MQTT and leaves the state file untouched"
        ),
    )
    p.add_argument("--json", action="store_true", help="with --dry-run: print the state JSON")
    p.add_argument(
        "--remove-discovery", action="store_true", help="clear this publisher's Home Assistant entities and exit"
    )

    d = sub.add_parser("display", parents=[common], help="run a display node")
    d.add_argument("-c", "--config", required=True, metavar="FILE", help="display node YAML config")
    d.add_argument("--driver", help="override display.driver (max7219, terminal, capture, gif, pygame, dummy)")
    d.add_argument(
        "--remove-discovery", action="store_true", help="clear this display node's Home Assistant entities and exit"
    )

    m = sub.add_parser("demo", parents=[common], help="the whole system on this machine: broker, publisher, display")
    m.add_argument("--bamboo-url", metavar="URL", help="read a real Bamboo (token from FDC_BAMBOO_TOKEN)")
    m.add_argument("--port", type=int, default=18830, help="broker port (default 18830, or a free one if taken)")
    m.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto", help="default: auto")
    m.add_argument("--timezone", help="IANA zone for the number (default: this machine's)")
    m.add_argument("--driver", help="the display node's driver (default terminal)")

    c = sub.add_parser(
        "check-config", parents=[common], help="validate a publisher or display config and list every problem"
    )
    c.add_argument("file", metavar="FILE")
    return parser


def check_config(path: str) -> int:
    """Validate FILE as whichever config it looks like; print every problem with its key path."""
    from display_node import config as display_config
    from publisher import config as publisher_config

    try:
        data = read_yaml(path)
        kind = "display" if display_config.looks_like(data) else "publisher"
        warnings: tuple[str, ...] = ()
        if kind == "display":
            display_config.load(path)
        else:
            warnings = publisher_config.load(path).warnings
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: valid {kind} config" + (f", with {len(warnings)} warning(s):" if warnings else ""))
    for warning in warnings:
        print(f"  - {warning}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        if args.command == "publisher":
            if (args.dry_run or args.json) and not args.once:
                print("fdc publisher: --dry-run and --json go with --once", file=sys.stderr)
                return EXIT_CONFIG
            if args.json and not args.dry_run:
                print("fdc publisher: --json goes with --dry-run", file=sys.stderr)
                return EXIT_CONFIG
            from publisher.main import run as run_publisher

            return run_publisher(args)
        if args.command == "display":
            from display_node.main import run as run_display

            return run_display(args)
        if args.command == "demo":
            from demo.run import run as run_demo

            return run_demo(args)
        if args.command == "check-config":
            return check_config(args.file)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
