"""The HTTP receiver (`webhooks:`): pushed deployments and GitHub/GitLab/Bamboo webhooks, beside the MQTT loop.

Starlette on uvicorn's pure-Python h11 server, on an event loop of its own in one thread. The shell is thin:
bodies are read with a cap (1 MiB, also when chunked) and a deadline, tokens and signatures are checked before
anything is parsed, and parsing, checks and the fold are publisher/push.py's and publisher/hooks.py's pure
functions; `Publisher.accept` takes the result, publishes at once and saves. Nothing here logs a header, a query
string or a body: secrets stay out of the logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import h11
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from common.webserver import ListenError, ThreadedServer, address, listen
from publisher import hooks, push
from publisher.service import Publisher

log = logging.getLogger("fdc.receiver")
REQUEST_SECONDS = 10.0  # headers and body must arrive within this of the connection (or of the last answer)
MAX_CONNECTIONS = 64  # beyond: 503 at once
MAX_DEPTH = 64  # JSON nesting; real bodies have 4


class ReceiverError(Exception):
    """The listener could not start; `str()` is a sentence for people."""


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline per request: a client that sends its headers or body too slowly,
    or opens a connection and sends nothing (half-open), is cut off after REQUEST_SECONDS."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(REQUEST_SECONDS, self._expire)

    def _expire(self) -> None:
        if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
            self.transport.close()  # the app's read sees a disconnect; nothing half-received is counted


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > push.MAX_BODY):
        raise _Refused(413, f"the body is larger than {push.MAX_BODY} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > push.MAX_BODY:
                raise _Refused(413, f"the body is larger than {push.MAX_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Refused(408, "the request was not sent in time") from None
    return b"".join(chunks)


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep the JSON value is nested (iteratively: no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            break
        if isinstance(v, dict):
            todo += [(x, d + 1) for x in v.values()]
        elif isinstance(v, list):
            todo += [(x, d + 1) for x in v]
    return deepest


def _json(raw: bytes) -> Any:
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _Refused(400, f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:  # UnicodeDecodeError too
        raise _Refused(400, f"the body is not JSON ({str(e)[:120]})") from None
    if _depth(value) > MAX_DEPTH:
        raise _Refused(400, f"the body is nested more than {MAX_DEPTH} levels deep")
    return value


def _answer(verdict: push.Verdict) -> JSONResponse:
    return JSONResponse(verdict.to_json(), status_code=202)


def make_app(pub: Publisher, section: dict[str, Any]) -> Starlette:
    """The receiver's endpoints (CONTRACT.md's table), over `pub`."""
    github_seen, gitlab_seen = hooks.Seen(), hooks.Seen()
    seen_lock = threading.Lock()

    async def take(hook: hooks.Hook, merge: push.Merge | None) -> JSONResponse:
        dep = hook.deployment
        if (why := push.times_problem(dep, pub.clock())) is not None:
            raise _Refused(400, why)
        verdict = await run_in_threadpool(pub.accept, dep, merge, hook.also)
        if verdict.counted:
            log.info("took %s deployment %s: %s → %s", dep.source, dep.result_id, dep.project, dep.environment)
        return _answer(verdict)

    async def deployments(request: Request) -> Response:
        bearer = request.headers.get("authorization", "")
        token = bearer[7:].strip() if bearer[:7].lower() == "bearer " else None
        if not hooks.constant_time_equal(section.get("token"), token):
            raise _Refused(401, "a valid Authorization: Bearer token (webhooks.token) is needed")
        body = _json(await _body(request))
        try:
            dep = push.parse_body(body)
        except push.Invalid as e:
            raise _Refused(400, str(e)) from None
        return await take(hooks.Hook(dep), None)

    async def github(request: Request) -> Response:
        raw = await _body(request)
        if not hooks.github_signature_ok(section.get("github_secret"), raw, request.headers.get("x-hub-signature-256")):
            raise _Refused(401, "X-Hub-Signature-256 is missing or wrong (webhooks.github_secret)")
        event, delivery = request.headers.get("x-github-event"), request.headers.get("x-github-delivery", "")[:100]
        if event == "ping":
            return JSONResponse({"pong": True})
        if event != "deployment_status":
            return Response(status_code=204)
        return await _once(github_seen, delivery, lambda: _hook(hooks.github, raw))

    async def gitlab(request: Request) -> Response:
        if not hooks.constant_time_equal(section.get("gitlab_token"), request.headers.get("x-gitlab-token")):
            raise _Refused(401, "X-Gitlab-Token is missing or wrong (webhooks.gitlab_token)")
        raw = await _body(request)
        if request.headers.get("x-gitlab-event") != "Deployment Hook":
            return Response(status_code=204)
        uuid = request.headers.get("x-gitlab-event-uuid") or request.headers.get("idempotency-key") or ""
        return await _once(gitlab_seen, uuid[:100], lambda: _hook(hooks.gitlab, raw))

    async def _hook(parse: Callable[[Any], hooks.Hook], raw: bytes) -> JSONResponse:
        try:
            hook = parse(_json(raw))
        except push.Invalid as e:
            raise _Refused(400, str(e)) from None
        return await take(hook, hooks.merge_status)

    async def _once(seen: hooks.Seen, delivery: str, handle: Callable[[], Awaitable[JSONResponse]]) -> Response:
        """A delivery id taken before is answered, not counted again (GitHub's redeliveries, replays)."""
        with seen_lock:
            if delivery and delivery in seen:
                return JSONResponse({"counted": False, "weeks": _weeks(), "reason": "this delivery was taken"})
        answer = await handle()
        if delivery:
            with seen_lock:
                seen.add(delivery)
        return answer

    def _weeks() -> int | None:
        return pub.count.weeks if pub.count is not None else None

    async def bamboo(request: Request) -> Response:
        if not hooks.constant_time_equal(section.get("bamboo_token"), request.query_params.get("token")):
            raise _Refused(401, "a valid ?token= (webhooks.bamboo_token) is needed")
        await _body(request)  # read (capped) and dropped: Bamboo's REST API is the truth
        pub.hint()
        return JSONResponse({"polling": True}, status_code=202)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Refused)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.status in (408, 413):
            headers["Connection"] = "close"
        return JSONResponse({"error": exc.text}, status_code=exc.status, headers=headers)

    return Starlette(
        routes=[
            Route("/api/v1/deployments", deployments, methods=["POST"]),
            Route("/hooks/github", github, methods=["POST"]),
            Route("/hooks/gitlab", gitlab, methods=["POST"]),
            Route("/hooks/bamboo", bamboo, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={_Refused: refused},
    )


class Receiver(ThreadedServer):
    """The listener in its own thread: bound at start (a taken port is a sentence, not a traceback)."""

    def __init__(self, pub: Publisher, section: dict[str, Any]) -> None:
        super().__init__(make_app(pub, section), section["listen"], name="receiver", log=log, http=GuardedH11,
                         limit_concurrency=MAX_CONNECTIONS)  # fmt: skip
        pub.hinted = True

    def start(self) -> None:
        try:
            super().start()
        except ListenError as e:
            raise ReceiverError(
                f"webhooks.listen: {e}: is another program using that port, or is the address not this machine's?"
            ) from None
        log.info("receiving pushed deployments and webhooks on http://%s:%d", self.host, self.port)


def start(pub: Publisher) -> Receiver | None:
    """The receiver when `webhooks:` is configured (announcing through `pub.announce`), else None."""
    section = dict(pub.cfg.sections).get(push.NAME)
    if section is None:
        return None
    receiver = Receiver(pub, dict(section))
    receiver.start()
    return receiver


def healthcheck(config_path: str) -> int:
    """Docker's healthcheck: 0 when /healthz answers `ok` (or no `webhooks:` is configured: nothing to ask)."""
    import urllib.request

    import yaml

    try:
        with open(config_path, encoding="utf-8") as f:
            section = (yaml.safe_load(f) or {}).get("webhooks")
        if not isinstance(section, dict):
            return 0
        host, port = address(listen(section.get("listen", "127.0.0.1:8080")))
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        where = f"[{host}]" if ":" in host else host
        with urllib.request.urlopen(f"http://{where}:{port}/healthz", timeout=3) as r:
            return 0 if r.read() == b"ok" else 1
    except Exception as e:  # unhealthy, with one line for `docker inspect`
        print(f"unhealthy: {type(e).__name__}: {str(e)[:200]}")
        return 1


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["--healthcheck"] or len(sys.argv) != 3:
        print("usage: python -m publisher.receiver --healthcheck CONFIG", file=sys.stderr)
        sys.exit(2)
    sys.exit(healthcheck(sys.argv[2]))
