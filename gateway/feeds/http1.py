"""A lean HTTP/1.1 client for the one link on the hot path: gateway → exchange.

aiohttp's client cost about a fifth of the gateway's CPU per forwarded order (profiled with
`bench/run.py --profile`): per request it builds a URL object, a multidict of headers, a
payload object, cookie and tracing hooks, a timer context and a task. This link needs none
of that: one origin, keep-alive connections, a handful of headers the gateway writes
itself. Answers are parsed by httptools (llhttp, the parser of Node.js and uvicorn), so
framing (Content-Length, chunked, keep-alive or close) is not hand-written here.

Nothing that may have reached the exchange is ever sent twice: a request is retried only
when it is idempotent (GET/HEAD/OPTIONS) and its reused connection was lost before any
byte of an answer came back.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
# Anything that could end the request line or a header early (request smuggling).
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_UNSAFE_VALUE = re.compile(r"[\x00\r\n]")
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"
_METHOD = re.compile(r"[A-Z]{1,16}")


class Http1Error(Exception):
    """The exchange could not be reached, or its answer could not be read."""


class ConnectFailed(Http1Error):
    pass


class ConnectionLost(Http1Error):
    pass


class BadResponse(Http1Error):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    # In the order received; names as sent.
    headers: list[tuple[str, str]]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self._loop = loop
        self._max_body = max_body
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._headers_done = False
        self._head_request = False
        self._finished = False  # the final answer to the current request is complete
        self.answered = False  # a byte of an answer to the current request arrived
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.abort()  # unsolicited bytes: this connection's framing cannot be trusted
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # Also bytes after the answer (see on_message_begin): the answer stands, the
            # connection goes.
            self._fail(BadResponse(f"malformed answer: {exc!r}"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._headers_done and self._close_delimited():
            # The body ran to the end of the connection, as the answer said. Not after a
            # reset: that cuts a body short. (Over TLS a missing close_notify is not
            # reported by the loop; such truncation cannot be told from an end.)
            self._complete()
            return
        waiter.set_exception(ConnectionLost(f"connection lost: {exc!r}" if exc else "connection closed"))

    # -- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._finished:
            # Another message after the answer, in the same packet: never the next call's
            # answer. Raising stops the parser; data_received drops the connection.
            raise BadResponse("bytes after the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._headers_done:
            return  # a chunked body's trailer fields: not to be merged into the header fields
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._head_request and self._parser.get_status_code() >= 200:
            # A HEAD answer has no body whatever its Content-Length says; rather than teach
            # the parser, the connection is not reused.
            self._complete()
            self.abort()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_body:
            self._fail(BadResponse(f"answer larger than {self._max_body} bytes"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self._headers, self._body, self._size, self._headers_done = [], [], 0, False
            return
        if not self._finished:
            self.reusable = self._parser.should_keep_alive()
            self._complete()

    # -- use ---------------------------------------------------------------------------

    async def exchange(self, request: bytes, head: bool, deadline: float) -> Response:
        """Write `request` and wait for its answer until the loop's clock reads `deadline`
        (then TimeoutError, and the connection goes: its framing is unknown)."""
        assert self._transport is not None
        self._waiter = self._loop.create_future()
        self._headers, self._body, self._size = [], [], 0
        self._headers_done, self._head_request = False, head
        self.answered = self.reusable = self._finished = False
        self._transport.write(request)
        # A timer on the answer itself: asyncio.timeout costs a task lookup, a state
        # machine and an uncancel per request on the hot path.
        timer = self._loop.call_at(deadline, self._timed_out)
        try:
            return await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    @property
    def closing(self) -> bool:
        return self.closed or self._transport is None or self._transport.is_closing()

    def abort(self) -> None:
        self.closed = True
        self.reusable = False
        if self._transport is not None:
            self._transport.abort()

    def _complete(self) -> None:
        self._finished = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        status = self._parser.get_status_code()
        body = b"".join(self._body)
        try:
            body = _decoded(body, self._headers, self._max_body)
        except (zlib.error, BadResponse) as exc:
            self._fail(BadResponse(str(exc)))
            return
        waiter.set_result(Response(status, self._headers, body))

    def _timed_out(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._fail(TimeoutError())

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.abort()

    def _close_delimited(self) -> bool:
        """Framed by the end of the connection (RFC 9112 6.3): a Transfer-Encoding whose
        last coding is not chunked, or neither it nor a Content-Length."""
        length, coding = False, None
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == "content-length":
                length = True
            elif lowered == "transfer-encoding":
                coding = value
        if coding is not None:
            return coding.rsplit(",", 1)[-1].strip().lower() != "chunked"
        return not length


def _decoded(body: bytes, headers: list[tuple[str, str]], limit: int) -> bytes:
    """The body without its content coding, at most `limit` bytes decoded. None is asked
    for (no Accept-Encoding is sent), but a server may still send gzip or deflate."""
    if not body:
        return body  # 204, 304, HEAD: nothing to decode, whatever coding is named
    for name, value in headers:
        if name.lower() == "content-encoding":
            coding = value.strip().lower()
            if coding in ("", "identity"):
                return body
            if coding in ("gzip", "x-gzip"):
                return _inflate(body, 16 + zlib.MAX_WBITS, limit)
            if coding == "deflate":
                try:
                    return _inflate(body, zlib.MAX_WBITS, limit)
                except zlib.error:
                    return _inflate(body, -zlib.MAX_WBITS, limit)  # raw deflate, as some send
            raise BadResponse(f"unsupported content coding {value!r}")
    return body


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit:
        raise BadResponse(f"answer larger than {limit} bytes once decoded")
    if not inflater.eof:
        raise BadResponse("compressed answer cut short")
    return out


class Http1Pool:
    """Keep-alive connections to one origin (http or https).

    `limit` bounds the requests in flight, and so the connections; `idle_seconds` drops a
    connection unused that long, well before a server's own keep-alive timeout (aiohttp's
    is 75 s), so a request is rarely written onto a connection the server is closing."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int = 256,
        idle_seconds: float = 15.0,
        max_body: int = 64 << 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        self._port = parts.port or default_port
        # https: the system's trust store and hostname checks (SSL_CERT_FILE names another
        # bundle); `ssl_context` for a private CA.
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = host if self._port == default_port else f"{host}:{self._port}"
        self._prefix = parts.path.rstrip("/")
        self._limit = asyncio.Semaphore(limit)
        self._idle: deque[_Connection] = deque()
        self._idle_seconds = idle_seconds
        self._max_body = max_body
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        timeout: float,
    ) -> Response:
        """Send one request and read its answer. `target`: the path and query as received
        (already percent-encoded). Raises Http1Error subclasses or TimeoutError."""
        data = self._serialise(method, target, headers, body)
        deadline = asyncio.get_running_loop().time() + timeout
        conn = None if self._limit.locked() else self._idle_connection()
        if conn is not None:
            # The common case: a free slot and a live connection, so nothing to wait for
            # but the answer, which `exchange` bounds itself.
            await self._limit.acquire()  # not locked: returns at once
            try:
                return await self._send(conn, True, data, method, deadline)
            finally:
                self._limit.release()
        # The deadline covers the wait for a free slot and the connect too: a call queued
        # past it must not go out late.
        async with asyncio.timeout_at(deadline), self._limit:
            conn = self._idle_connection()
            if conn is not None:
                return await self._send(conn, True, data, method, deadline)
            return await self._send(await self._connect(), False, data, method, deadline)

    async def _send(
        self, conn: _Connection, reused: bool, data: bytes, method: str, deadline: float
    ) -> Response:
        try:
            return await self._exchange(conn, data, method, deadline)
        except ConnectionLost:
            if not (reused and not conn.answered and method in _IDEMPOTENT):
                raise
        # The server had closed the idle connection before reading it: once more, on a
        # fresh one.
        async with asyncio.timeout_at(deadline):
            return await self._exchange(await self._connect(), data, method, deadline)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().abort()

    async def _exchange(self, conn: _Connection, data: bytes, method: str, deadline: float) -> Response:
        try:
            response = await conn.exchange(data, method == "HEAD", deadline)
        except BaseException:
            conn.abort()  # lost, malformed, cancelled or timed out mid-answer: framing unknown
            raise
        self._release(conn)
        return response

    def _serialise(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
        if not _METHOD.fullmatch(method):
            raise ValueError(f"bad method {method!r}")
        if not target.isascii():
            # As a client library would: non-ASCII is sent percent-encoded (as UTF-8).
            target = quote(target, safe=_TARGET_SAFE, encoding="utf-8", errors="surrogateescape")
        if not target.startswith("/") or _UNSAFE_TARGET.search(target):
            raise ValueError(f"bad request target {target!r}")
        lines = [f"{method} {self._prefix}{target} HTTP/1.1\r\nHost: {self._host_header}\r\n"]
        for name, value in headers:
            if _UNSAFE_TARGET.search(name) or _UNSAFE_VALUE.search(value):
                raise ValueError(f"bad header {name!r}")
            lines.append(f"{name}: {value}\r\n")
        if body or method not in _BODYLESS:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        # The client's own bytes: aiohttp decodes header values as UTF-8 with surrogateescape.
        head = "".join(lines).encode("utf-8", "surrogateescape")
        return head + body if body else head

    def _idle_connection(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: least likely to be stale
            if not conn.closing and now - conn.idle_since < self._idle_seconds:
                return conn
            conn.abort()
        return None

    async def _connect(self) -> _Connection:
        if self._closed:
            raise ConnectFailed("the connection pool is closed")
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(loop, self._max_body),
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
            )
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self._host}:{self._port}: {exc}") from exc
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.reusable and not conn.closed and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.abort()
