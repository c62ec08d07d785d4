"""`fdc web`: a display node whose "matrix" is a web page for office screens and TVs.

It is the Node (display_node/node.py) with a `WebPanel`: the node subscribes, decides what is stale, publishes
`status`/`showing`/`brightness` and its Home Assistant entities as for an LED matrix, and hands each frame to
the panel, which feeds a `Hub`. The page (display_node/static/, no build step) gets the whole picture as one
Server-Sent Event per change and draws the frame's lit pixels as LEDs; the browser's EventSource reconnects
by itself. `<prefix>/state` is watched for the record and the deployment that set the count (display_node/page.py
checks it).

The server is Starlette on uvicorn's pure-Python h11, in a thread beside the node, as the publisher's webhook
receiver is. Bounded: each page gets only the newest picture (an event per page, no queue), so a slow page
waits on its own socket and cannot hold up the others or grow memory; at most MAX_PAGES connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from luma.core.device import dummy
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from common.config import ConfigError
from common.exits import EXIT_CONFIG, EXIT_OK
from common.logs import REDACT, RateLimitedLog
from common.payloads import PayloadError
from common.topics import Topics
from common.webserver import ListenError, ThreadedServer
from display_node.config import DisplayConfig, load
from display_node.drivers import Panel
from display_node.main import remove_discovery, run_until_signalled
from display_node.node import Node, Showing
from display_node.page import blocks_for, decode_state, model
from display_node.render import pixels

log = logging.getLogger("fdc.web")
MAX_PAGES = 256  # connections at once (each page holds one for its events); beyond: 503 at once
KEEPALIVE = 15.0  # seconds: a comment line keeps proxies from closing an idle event stream
STATIC = {"page.js": "text/javascript", "page.css": "text/css", "index.html": "text/html"}


class Hub:
    """The newest picture for the page, shared between the node's threads and the server's event loop. Each
    change bumps `version`; every connected page is woken and sends the newest picture once (never a backlog)."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._lock = threading.Lock()
        self._rows: list[str] = []
        self._showing: Showing | None = None
        self._state: dict[str, Any] | None = None
        self._brightness, self._on = 15, True
        self.version = 0
        self._body: tuple[int, bytes] | None = None
        self._pages: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self.closing = False
        self.bad_states = RateLimitedLog(log)

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            pages = list(self._pages.items())
        for event, loop in pages:
            with contextlib.suppress(RuntimeError):  # that page's loop is gone (the server is stopping)
                loop.call_soon_threadsafe(event.set)

    def frame(self, rows: list[str]) -> None:
        with self._lock:
            if rows == self._rows:
                return
            self._rows = rows
        self._changed()

    def showing(self, showing: Showing) -> None:
        with self._lock:
            self._showing = showing
        self._changed()

    def light(self, brightness: int | None = None, on: bool | None = None) -> None:
        with self._lock:
            if brightness is not None:
                self._brightness = brightness
            if on is not None:
                self._on = on
        self._changed()

    def state(self, payload: bytes) -> None:
        """`<prefix>/state` from paho's thread: checked, or one rate-limited log line and the page keeps the last."""
        try:
            summary = decode_state(payload)
        except PayloadError as e:
            self.bad_states.warning("ignored a bad payload on the state topic: %s; the page keeps the last one", e)
            return
        with self._lock:
            self._state = summary
        self._changed()

    def picture(self) -> tuple[int, bytes]:
        """(version, the page's JSON): encoded once per change however many pages there are."""
        with self._lock:
            if self._body is None or self._body[0] != self.version:
                data = model(
                    self._rows,
                    self._showing,
                    self._state,
                    brightness=self._brightness,
                    on=self._on,
                    stale_after=self.stale_after,
                )
                self._body = (self.version, json.dumps(data, separators=(",", ":")).encode())
            return self._body

    def join(self, event: asyncio.Event, loop: asyncio.AbstractEventLoop) -> bool:
        with self._lock:
            if len(self._pages) >= MAX_PAGES or self.closing:
                return False
            self._pages[event] = loop
            return True

    def leave(self, event: asyncio.Event) -> None:
        with self._lock:
            self._pages.pop(event, None)

    @property
    def pages(self) -> int:
        with self._lock:
            return len(self._pages)

    def close(self) -> None:
        """Let every event stream end, so the server can stop at once."""
        self.closing = True
        self._changed()


class WebPanel(Panel):
    """The Node's panel for the page: as many 8x8 blocks as the number needs, frames and brightness to the Hub."""

    def __init__(self, hub: Hub) -> None:
        super().__init__(dummy(width=16, height=8, mode="1"), "web")
        self.hub = hub

    def size_for(self, value: int | None) -> tuple[int, int]:
        return 8 * blocks_for(value), 8

    def show(self, image: Image.Image) -> None:
        self.frames += 1
        self.hub.frame(pixels(image))

    def set_brightness(self, level: int) -> None:
        self.hub.light(brightness=level)

    def power(self, on: bool) -> None:
        self.hub.light(on=on)

    def close(self, persist: bool) -> None:
        """Nothing to release: the server stops with `WebServer.stop`."""


def _asset(name: str) -> bytes:
    return resources.files("display_node").joinpath("static", name).read_bytes()


def make_app(hub: Hub) -> Starlette:
    """The page, its two files, its event stream, and the same picture as JSON (for scripts and curl)."""
    assets = {name: _asset(name) for name in STATIC}  # read once: the package files do not change

    async def index(request: Request) -> Response:
        return Response(assets["index.html"], media_type="text/html", headers={"Cache-Control": "no-cache"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        return Response(assets[name], media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def now(request: Request) -> Response:
        return Response(hub.picture()[1], media_type="application/json", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        event = asyncio.Event()
        if not hub.join(event, asyncio.get_running_loop()):
            return PlainTextResponse("too many pages are open", status_code=503, headers={"Retry-After": "5"})

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\n\n"  # EventSource: reconnect a second after the node went away
                sent = -1
                while not hub.closing:
                    event.clear()
                    version, body = hub.picture()
                    if version != sent:
                        sent = version
                        yield b"data: " + body + b"\n\n"
                    try:
                        await asyncio.wait_for(event.wait(), KEEPALIVE)
                    except TimeoutError:
                        yield b": still here\n\n"
            finally:
                hub.leave(event)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/events", events),
            Route("/api/now", now),
            Route("/healthz", healthz),
        ]
    )


class WebServer(ThreadedServer):
    """The page's server in its own thread, on a socket bound at start (a taken port is a sentence)."""

    def __init__(self, hub: Hub, listen: str) -> None:
        self.hub = hub
        # limit_concurrency: room for the page's files while MAX_PAGES streams are open
        super().__init__(make_app(hub), listen, name="web", log=log, timeout_graceful_shutdown=2,
                         limit_concurrency=MAX_PAGES + 16)  # fmt: skip

    def start(self) -> None:
        try:
            super().start()
        except ListenError as e:
            raise ConfigError("web.listen", [f"{e}: is another program using that port?"]) from None
        log.info("the page is on http://%s:%d/", self.host, self.port)

    def stop(self) -> None:
        self.hub.close()
        super().stop()


def web_node(config: DisplayConfig, hub: Hub) -> Node:
    """The Node behind the page: it also watches `<prefix>/state` for the record and the deployment."""
    state_topic = Topics(config.topic_prefix).state
    return Node(config, WebPanel(hub), on_showing=hub.showing, watch={state_topic: hub.state})


def run(args: argparse.Namespace) -> int:
    """`fdc web -c web.yaml`: the page and the node until SIGTERM/SIGINT; returns the exit code."""
    try:
        config = load(args.config)
        if config.web_listen is None:
            raise ConfigError(args.config, ["web: missing: a web node's config has web: {listen: 0.0.0.0:8090}"])
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    REDACT.add([config.mqtt.password])
    if getattr(args, "remove_discovery", False):
        return remove_discovery(config)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    hub = Hub(config.stale_after)
    node = web_node(config, hub)
    server = WebServer(hub, config.web_listen)
    try:
        server.start()
    except ConfigError as e:
        print(f"fdc web: {e.render()}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        run_until_signalled(node, threading.Event())
    finally:
        server.stop()
    return EXIT_OK
