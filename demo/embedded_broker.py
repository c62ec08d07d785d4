"""A pure-Python MQTT broker (amqtt) for the demo when mosquitto is not installed.

Run as `python -m demo.embedded_broker PORT`; stops on SIGINT/SIGTERM. Anonymous and any user name are let in:
it listens on loopback only and exists for the demo.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys


async def serve(port: int) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    print(f"embedded broker (amqtt) listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        import amqtt  # noqa: F401
    except ImportError:
        print("the embedded broker needs amqtt: pip install 'friday-deploy-counter[demo]'", file=sys.stderr)
        return 2
    asyncio.run(serve(int(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
