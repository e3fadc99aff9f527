"""The HTTP edge below the app: requests too malformed to reach a handler.

aiohttp's protocol answers a request it cannot parse (a bad request line, Content-Length
with Transfer-Encoding, an oversized or invalid header) by itself: it logs "Error handling
request" at ERROR with a traceback, answers a text body quoting the client's bytes, and
names its own version in `Server`. Anyone could flood the log with that and trip
log-based alerts. Here such a request gets a fixed 400 in the exchange's shape, quoting
nothing, and closes the connection; it is counted by kind and logged as one WARNING a
minute at most. HTTP/0.9 (no version, no headers, no Host) is refused the same way.

`EdgeRunner` is how the gateway is served, by `python -m gateway serve` and the tests
alike: aiohttp offers no per-app hook for the protocol object, so the runner builds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable

import orjson
from aiohttp import http_exceptions as errors
from aiohttp import web
from aiohttp.http import HttpVersion10
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import GracefulExit
from aiohttp.web_server import Server

from gateway import appkeys as K
from gateway.binance.errors import error_body, wire_error

log = logging.getLogger(__name__)

# Every answer names the product, never a version (a version tells an attacker which
# advisories apply). Set on app answers in gateway/app.py, on protocol answers here.
SERVER_NAME = "compliance-gateway"
MALFORMED = "malformed_request"
WARNING_INTERVAL_SECONDS = 60.0
_MALFORMED_TEXT = "The request could not be read as HTTP/1.1."
_INTERNAL = {"code": -1000, "msg": "internal_error: An unknown error occurred."}
_TIMEOUT = {"code": -1007, "msg": "upstream_timeout: Timeout waiting for response."}


def malformed_kind(exc: BaseException | None) -> str:
    """One of metrics.MALFORMED_KINDS: a bounded label (the parser's text quotes the
    client's bytes, so it is never logged or answered)."""
    if isinstance(exc, errors.BadHttpMethod):
        return "method"
    if isinstance(exc, errors.BadStatusLine | errors.InvalidURLError):
        return "request_line"
    if isinstance(exc, errors.LineTooLong):
        return "too_large"
    if isinstance(exc, errors.PayloadEncodingError):
        return "framing"
    if isinstance(exc, errors.InvalidHeader):
        return "header"
    text = getattr(exc, "message", "") or ""
    if "Too many headers" in text or "too long" in text.lower():
        return "too_large"
    if any(word in text for word in ("Content-Length", "Transfer-Encoding", "chunk")):
        return "framing"
    if "header" in text.lower() or "LF" in text:
        return "header"
    return "other"


class RateLimitedWarning:
    """At most one WARNING per interval; the ones held back are counted into the next."""

    def __init__(
        self, logger: logging.Logger, interval: float = WARNING_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._held: Counter[str] = Counter()

    def event(self, kind: str) -> None:
        self._held[kind] += 1
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self._held.items()))
        total = sum(self._held.values())
        self._held.clear()
        self._log.warning("refused %d malformed HTTP request(s) since the last warning (%s)", total, kinds)


class EdgeGuard:
    """What the edge does with a malformed request: count it, warn now and then, answer."""

    def __init__(self, app: web.Application) -> None:
        self._metrics = app.get(K.METRICS)
        self._warning = RateLimitedWarning(log)
        body = error_body(wire_error(MALFORMED, None).code, MALFORMED, _MALFORMED_TEXT)
        self._body = orjson.dumps(body)

    def refuse(self, kind: str) -> web.Response:
        self.count(kind)
        return answer(self._body, wire_error(MALFORMED, None).http_status)

    def count(self, kind: str) -> None:
        if self._metrics is not None:
            self._metrics.child(self._metrics.malformed_requests, kind).inc()
        self._warning.event(kind)

    def raw_refusal(self) -> bytes:
        """The same answer as bytes, for a connection refused before aiohttp parsed it."""
        status = wire_error(MALFORMED, None).http_status
        head = (
            f"HTTP/1.0 {status} Bad Request\r\nServer: {SERVER_NAME}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self._body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + self._body


def answer(body: bytes, status: int) -> web.Response:
    """A fixed JSON answer that ends the connection: after a framing error the rest of
    the stream cannot be trusted to start a request."""
    response = web.Response(
        body=body, status=status, content_type="application/json",
        # Said even to an HTTP/1.0 request line (all aiohttp reports after a parse error).
        headers={"Server": SERVER_NAME, "Connection": "close"},
    )  # fmt: skip
    response.force_close()
    return response


class EdgeRequestHandler(RequestHandler):
    """aiohttp's connection protocol with the gateway's answer to what it cannot parse."""

    guard: EdgeGuard
    # The connection's first line while it is still arriving; None once it was checked.
    _first_line: bytearray | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._first_line = bytearray()

    def data_received(self, data: bytes) -> None:
        """An HTTP/0.9 request (`GET /path` and a line end, no version, no headers) is
        refused as soon as its line is in: aiohttp's parser would wait for a header block
        that never comes, holding the connection open."""
        if self._first_line is not None:
            self._first_line += data
            line, newline, _ = bytes(self._first_line).partition(b"\n")
            if newline or len(self._first_line) > _FIRST_LINE_MAX:
                self._first_line = None
                if newline and _is_http09(line):
                    self.guard.count("http09")
                    if self.transport is not None:
                        self.transport.write(self.guard.raw_refusal())
                        self.transport.close()
                    return
        super().data_received(data)

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        if request.writer.output_size > 0:
            # As aiohttp does: the status line is gone, only a cut connection is left.
            raise ConnectionError("an answer was already being sent")
        if status == 400:
            return self.guard.refuse(malformed_kind(exc))
        if status == 504:
            return answer(orjson.dumps(_TIMEOUT), 504)
        # Past the middleware, which answers every handler error itself: a bug, so kept
        # at ERROR with its traceback, but the answer still quotes nothing.
        log.error("unhandled error answering a request", exc_info=exc)
        return answer(orjson.dumps(_INTERNAL), 500)


_FIRST_LINE_MAX = 8190  # aiohttp's own limit for a request line


def _is_http09(line: bytes) -> bool:
    """A request line of two words, a method and a path, without `HTTP/x.y` (anything
    else malformed is left to the parser, which names its kind)."""
    words = line.rstrip(b"\r").split(b" ")
    return len(words) == 2 and words[0].isalpha() and words[0].isupper() and words[1].startswith(b"/")


class EdgeServer(Server):
    """aiohttp's server for the app, with EdgeRequestHandler connections, and HTTP/0.9
    refused before the app sees it."""

    def __init__(self, base: Server, guard: EdgeGuard) -> None:
        app_handler = base.request_handler

        async def refuse_http09(request: web.BaseRequest) -> web.StreamResponse:
            if request.version < HttpVersion10:
                return guard.refuse("http09")
            return await app_handler(request)

        # The handler arguments aiohttp built for the app (limits, access log, debug).
        super().__init__(
            refuse_http09, request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation, loop=base._loop, **base._kwargs,
        )  # fmt: skip
        self._guard = guard

    def __call__(self) -> RequestHandler:
        handler = EdgeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.guard = self._guard
        return handler


class EdgeRunner(web.AppRunner):
    """web.AppRunner whose connections answer malformed requests as the gateway does."""

    async def _make_server(self) -> Server:
        base = await super()._make_server()
        return EdgeServer(base, EdgeGuard(self.app))


def run(
    app: web.Application, host: str, port: int, shutdown_timeout: float, on_listening: Callable[[], None]
) -> None:
    """web.run_app, with EdgeRunner: until SIGINT or SIGTERM, then a graceful shutdown.

    The port is bound with SO_REUSEPORT, so the workers of one group (gateway/ops/workers.py)
    share it and the kernel spreads connections over them. A second signal while draining
    changes nothing: Ctrl-C reaches a worker directly and through its supervisor."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runner = EdgeRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, reuse_port=True).start()
            on_listening()
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(GracefulExit, KeyboardInterrupt):
        asyncio.run(main())
