"""The `fdc` console script: parses the command line and hands over to one service's main (the composition root).

Service modules are imported lazily so that `fdc display` on a Pi Zero does not pay for the publisher.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from common import __version__
from common.config import ConfigError, read_yaml
from common.exits import EXIT_CONFIG, EXIT_OK, EXIT_UNREACHABLE
from common.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fdc", description="Friday Deploy Counter: weeks since a Friday deployment")
    parser.add_argument("-V", "--version", action="version", version=f"fdc {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --log-level is accepted after the subcommand too (`fdc publisher -c x --log-level debug`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, choices=["debug", "info", "warning", "error"])

    p = sub.add_parser(
        "publisher", parents=[common], help="read the deployment sources and keep the number published on MQTT"
    )
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

    w = sub.add_parser("web", parents=[common], help="a display node that serves the poster as a web page")
    w.add_argument("-c", "--config", required=True, metavar="FILE", help="web node YAML config (with web:)")
    w.add_argument(
        "--remove-discovery", action="store_true", help="clear this web node's Home Assistant entities and exit"
    )

    m = sub.add_parser("demo", parents=[common], help="the whole system on this machine: broker, publisher, display")
    m.add_argument("--bamboo-url", metavar="URL", help="read a real Bamboo (token from FDC_BAMBOO_TOKEN)")
    m.add_argument("--port", type=int, default=18830, help="broker port (default 18830, or a free one if taken)")
    m.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto", help="default: auto")
    m.add_argument("--timezone", help="IANA zone for the number (default: this machine's)")
    m.add_argument("--driver", help="the display node's driver (default terminal)")

    h = sub.add_parser(
        "history", parents=[common], help="the Friday deployments the publisher knows, the runs between them, a chart"
    )
    h.add_argument("-c", "--config", required=True, metavar="FILE", help="publisher YAML config (its state_file)")
    h.add_argument("--png", metavar="FILE", help="also draw the runs as a chart (needs the history extra: matplotlib)")

    c = sub.add_parser(
        "check-config", parents=[common], help="validate a publisher or display config and list every problem"
    )
    c.add_argument("file", metavar="FILE")

    u = sub.add_parser("push", parents=[common], help="send one deployment to a publisher's receiver (from CI)")
    u.add_argument("--url", required=True, help="the receiver's base URL, e.g. http://publisher:8080")
    u.add_argument("--token", help="its webhooks.token (default: $FDC_WEBHOOK_TOKEN)")
    u.add_argument("--project", required=True)
    u.add_argument("--environment", required=True)
    u.add_argument("--started", required=True, metavar="T", help="ISO 8601 with an offset, epoch ms, or now")
    u.add_argument("--finished", metavar="T", help="ISO 8601 with an offset, epoch ms, or now (absent: running)")
    u.add_argument("--state", help="SUCCESS (default), FAILED or UNKNOWN")
    u.add_argument("--version", dest="deploy_version", metavar="VERSION")
    u.add_argument("--id", dest="deploy_id", metavar="ID", help="default: made from project, environment and start")
    u.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    return parser


def push(args: argparse.Namespace) -> int:
    """`fdc push`: one POST /api/v1/deployments; 0 counted or ignored, 2 bad usage, 3 refused or unreachable."""
    import os
    from datetime import UTC, datetime

    import requests

    from publisher.push import stable_id
    from publisher.times import TimeError, parse_time

    def fail(code: int, text: str) -> int:
        print(f"fdc push: {text}", file=sys.stderr)
        return code

    def when(value: str) -> datetime:
        if value.strip().lower() == "now":
            return datetime.now(UTC)
        moment = parse_time(value.strip(), naive_tz=None)
        if moment.tzinfo is None:
            raise TimeError(f"{value!r} has no UTC offset (add one, e.g. +01:00 or Z)")
        return moment

    token = args.token or os.environ.get("FDC_WEBHOOK_TOKEN")
    if not token:
        return fail(EXIT_CONFIG, "no token: give --token or set FDC_WEBHOOK_TOKEN (the receiver's webhooks.token)")
    if not args.url.startswith(("http://", "https://")):
        return fail(EXIT_CONFIG, f"--url {args.url!r} is not an http(s) URL like http://publisher:8080")
    times: dict[str, datetime | None] = {}
    for flag, value in (("--started", args.started), ("--finished", args.finished)):
        try:
            times[flag] = when(value) if value else None
        except TimeError as e:
            return fail(EXIT_CONFIG, f"{flag}: {e}")
    started, finished = times["--started"], times["--finished"]
    assert started is not None
    body = {
        "id": args.deploy_id or stable_id(args.project, args.environment, started),
        "project": args.project,
        "environment": args.environment,
        "started": started.isoformat(),
        "finished": finished.isoformat() if finished else None,
    }
    body.update({k: v for k, v in (("state", args.state), ("version", args.deploy_version)) if v})
    url = args.url.rstrip("/") + "/api/v1/deployments"
    try:
        r = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=args.timeout)
    except requests.RequestException as e:
        return fail(EXIT_UNREACHABLE, f"cannot reach {args.url} ({type(e).__name__}): is the publisher's receiver on?")
    try:
        answer = r.json()
    except ValueError:
        answer = {}
    said = str(answer.get("error") or answer.get("reason") or "")[:300] if isinstance(answer, dict) else ""
    if r.status_code == 202 and isinstance(answer, dict):
        weeks = answer.get("weeks")
        if answer.get("counted"):
            print(f"counted {body['id']}: {weeks} week(s) since a Friday deployment")
        else:
            print(f"not counted ({said or 'ignored'}); {weeks} week(s) since a Friday deployment")
        return EXIT_OK
    if r.status_code in (400, 413):
        return fail(EXIT_CONFIG, f"the receiver refused the deployment: {said or r.status_code}")
    if r.status_code == 401:
        return fail(EXIT_UNREACHABLE, "the receiver refused the token (check --token / FDC_WEBHOOK_TOKEN)")
    return fail(EXIT_UNREACHABLE, f"the receiver at {args.url} answered HTTP {r.status_code}: {said or 'no reason'}")


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
    if kind == "display" and isinstance(data, dict) and "web" in data:
        kind = "web display"
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
        if args.command == "web":
            from display_node.web import run as run_web

            return run_web(args)
        if args.command == "demo":
            from demo.run import run as run_demo

            return run_demo(args)
        if args.command == "history":
            from publisher.history import run as run_history

            return run_history(args)
        if args.command == "check-config":
            return check_config(args.file)
        if args.command == "push":
            return push(args)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
