"""The demo's broker when mosquitto is not installed: amqtt, made to behave like the project's mosquitto for
what the demo shows (users and passwords, the ACL, anonymous refused, retained messages once, QoS 1 kept for
persistent sessions; see `demo.amqtt_broker`). Not there: persistence across restarts (the demo's mosquitto
has none either), TLS, bridges and MQTT 5.

Run as `python -m demo.embedded_broker PORT USERS_FILE ACL_FILE`; stops on SIGINT/SIGTERM. USERS_FILE has one
`user:password` line per user; ACL_FILE is in mosquitto's acl format (the project's `mosquitto/acl`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

INSTALL_HINT = (
    "the embedded broker needs amqtt: run `.venv/bin/pip install -e '.[demo]'` in the checkout "
    "(make demo does), or install mosquitto (sudo apt-get install mosquitto)"
)


async def serve(port: int, users_file: Path, acl_file: Path) -> None:
    from demo.amqtt_broker import make_broker

    broker = make_broker(port, users_file, acl_file)
    await broker.start()
    print(f"embedded broker (amqtt) listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fdc.demo.broker").setLevel(logging.INFO)
    try:
        import amqtt  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if len(argv) != 3:
        print("usage: python -m demo.embedded_broker PORT USERS_FILE ACL_FILE", file=sys.stderr)
        return 2
    asyncio.run(serve(int(argv[0]), Path(argv[1]), Path(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
