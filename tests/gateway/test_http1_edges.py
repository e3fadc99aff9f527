"""Edges of gateway/feeds/http1.py found by review: framing a parser leaves to its caller,
deadlines, encodings, truncation. Each test in the first part once failed; the second
part covers cases test_http1.py does not.

Servers on 127.0.0.1 only; every wait is bounded; nothing asserts on wall-clock time."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import struct
from collections.abc import Callable

import pytest

from gateway.feeds import http1
from gateway.feeds.http1 import BadResponse, ConnectFailed, ConnectionLost, Http1Error, Http1Pool
from gateway.feeds.upstream import Upstream
from tests.gateway.test_http1 import pooled, raw_server, read_request

pytestmark = pytest.mark.asyncio

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def until(condition: Callable[[], object], what: str) -> None:
    """Yield to the loop until `condition()` holds (at most ~2 s)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


# -- once defects ---------------------------------------------------------------------------


async def test_bytes_after_an_answer_never_answer_the_next_call() -> None:
    """Bytes that follow a complete answer in the same packet drop the connection. They
    were once parsed on and the connection pooled: the next call (an order) was answered
    with the stray message's status and the first bytes of its real answer."""
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        while True:
            await read_request(reader)
            calls += 1
            if calls == 1:
                # The answer, and in the same packet the head of an answer nobody asked for.
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                )
            else:
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nsecond")
            await writer.drain()

    async with raw_server(handler) as url, pooled(url) as pool:
        first = await pool.request("GET", "/api/v3/account", [], b"", timeout=5)
        second = await pool.request("POST", "/api/v3/order", [], b"side=BUY", timeout=5)
    assert (first.status, first.body) == (200, b"first")
    assert (second.status, second.body) == (201, b"second")
    assert first.headers == [("Content-Length", "5")]


async def test_waiting_for_a_free_connection_counts_against_the_timeout() -> None:
    """With every connection busy, a call's deadline runs while it waits for one. It once
    waited unbounded and was then sent with a fresh timeout, long after its caller's
    deadline (and after a review lease sized on that timeout)."""
    seen: list[str] = []
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        seen.append(line)
        await release.wait()

    async with raw_server(handler) as url:
        pool = Http1Pool(url, limit=1)
        slow = asyncio.create_task(pool.request("GET", "/slow", [], b"", timeout=2))
        try:
            await until(lambda: seen, "the slow call reached the server")
            order = asyncio.create_task(pool.request("POST", "/api/v3/order", [], b"side=BUY", timeout=0.2))
            done, _ = await asyncio.wait({slow, order}, return_when=asyncio.FIRST_COMPLETED)
            first_done = "order" if order in done else "slow"
            await asyncio.gather(slow, order, return_exceptions=True)
        finally:
            release.set()
            slow.cancel()
            await asyncio.gather(slow, return_exceptions=True)
            await pool.close()
    assert first_done == "order"
    assert isinstance(order.exception(), TimeoutError)
    assert seen == ["GET /slow HTTP/1.1"]


async def test_a_reused_connection_that_never_answers_times_out_and_is_dropped() -> None:
    """A call on a kept-alive connection is bounded by the timer on its answer (the path
    without asyncio.timeout): TimeoutError at its deadline, that connection dropped, and
    the next call goes out on a fresh one."""
    connections = 0
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        if connections == 1:
            await read_request(reader)  # the second call, on this same connection
            await release.wait()  # never answered
            return
        while True:
            await read_request(reader)
            writer.write(OK)
            await writer.drain()

    async with raw_server(handler) as url, pooled(url) as pool:
        try:
            first = await pool.request("GET", "/a", [], b"", timeout=5)
            with pytest.raises(TimeoutError):
                await pool.request("POST", "/api/v3/order", [], b"side=BUY", timeout=0.2)
            after = await pool.request("GET", "/b", [], b"", timeout=5)
        finally:
            release.set()
    assert (first.body, after.body) == (b"ok", b"ok")
    assert connections == 2  # the silent connection was not reused


async def test_head_after_an_interim_answer_gets_the_final_status() -> None:
    """For HEAD the answer is completed in on_headers_complete, which also runs for a 1xx:
    a 103 Early Hints was returned as the answer."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        )
        await writer.drain()
        await reader.read()

    async with raw_server(handler) as url, pooled(url) as pool:
        answer = await pool.request("HEAD", "/x", [], b"", timeout=5)
    assert (answer.status, answer.body) == (200, b"")


@pytest.mark.parametrize(
    ("method", "reply", "status"),
    [
        ("GET", b'HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\nETag: "v1"\r\n\r\n', 304),
        ("DELETE", b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n", 204),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 35\r\n\r\n", 200),
    ],
)
async def test_answers_without_a_body_are_read_whatever_their_content_coding(
    method: str, reply: bytes, status: int
) -> None:
    """_decoded() gunzipped an empty body: a 304/204/HEAD answer naming gzip was BadResponse."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()
        await reader.read()

    async with raw_server(handler) as url, pooled(url) as pool:
        answer = await pool.request(method, "/x", [], b"", timeout=5)
    assert (answer.status, answer.body) == (status, b"")


async def test_a_compressed_answer_is_bounded_after_decoding_too() -> None:
    """max_body was checked on the bytes on the wire only: 20 KB of gzip became 20 MB."""
    packed = gzip.compress(b"\0" * (20 << 20))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed))
        writer.write(packed)
        await writer.drain()
        await reader.read()

    async with raw_server(handler) as url, pooled(url, max_body=1 << 20) as pool:
        with pytest.raises(BadResponse, match="larger than"):
            await pool.request("GET", "/x", [], b"", timeout=5)


async def test_a_close_delimited_body_cut_by_a_reset_is_not_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """connection_lost() completed a close-delimited answer whatever `exc` was: a body cut
    short by a TCP reset was returned as the whole answer."""
    body_seen = asyncio.Event()

    class Watched(http1._Connection):
        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            body_seen.set()

    monkeypatch.setattr(http1, "_Connection", Watched)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"orderId":')
        await writer.drain()
        await asyncio.wait_for(body_seen.wait(), 5)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    async with raw_server(handler) as url, pooled(url) as pool:
        with pytest.raises(ConnectionLost):
            await pool.request("GET", "/x", [], b"", timeout=5)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=\u20ac",  # client sent e2 82 ac
        "application/x-www-form-urlencoded; x=\u00e9",  # client sent c3 a9
        "application/x-www-form-urlencoded; x=\udcff",  # client sent ff (aiohttp: surrogateescape)
    ],
)
async def test_a_clients_content_type_reaches_the_exchange_as_it_was_sent(content_type: str) -> None:
    """The proxy passes the client's Content-Type on; its bytes arrive unchanged. The head
    was once encoded Latin-1: a non-Latin-1 value raised UnicodeEncodeError out of
    forward() (a 500; in the review forwarder it escaped the sweep), and a Latin-1 one was
    transcoded (c3 a9 arrived as e9)."""
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, headers, _ = await read_request(reader)
        received.append(headers["content-type"].encode("latin-1"))
        writer.write(OK)
        await writer.drain()

    async with raw_server(handler) as url:
        upstream = Upstream(url, "t0k", timeout=5)
        await upstream.open()
        try:
            answer = await upstream.forward("POST", "/api/v3/order", b"side=BUY", content_type, "c1")
        finally:
            await upstream.close()
    assert answer.status == 200
    assert received == [content_type.encode("utf-8", "surrogateescape")]


async def test_trailer_fields_are_not_merged_into_the_header_fields() -> None:
    """httptools reports trailer fields through on_header too; they are not merged into
    the answer's header fields (RFC 9110 6.5.1). They once were, and in Upstream's dict a
    trailer overrode the header of the same name."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\n0\r\nContent-Type: text/html\r\nX-Checksum: 1\r\n\r\n"
        )
        await writer.drain()

    async with raw_server(handler) as url:
        upstream = Upstream(url, "t0k", timeout=5)
        await upstream.open()
        try:
            answer = await upstream.forward("GET", "/api/v3/account", b"", None, "c1")
        finally:
            await upstream.close()
    assert answer.body == b"{}"
    assert answer.headers == {"Content-Type": "application/json"}


async def test_a_body_delimited_by_close_is_read_when_transfer_encoding_is_not_chunked() -> None:
    """RFC 9112 6.3: a response whose Transfer-Encoding does not end in chunked runs to the
    close. llhttp reads it so; _close_delimited() once saw any Transfer-Encoding field as
    framing and reported ConnectionLost."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nto the end")
        await writer.drain()

    async with raw_server(handler) as url, pooled(url) as pool:
        answer = await pool.request("GET", "/x", [], b"", timeout=5)
    assert (answer.status, answer.body) == (200, b"to the end")


async def test_a_101_answer_is_refused_without_crashing_the_protocol(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httptools raises HttpParserUpgrade (not an HttpParserError) on a 101. It is a
    BadResponse now; it once escaped data_received, and the event loop logged 'Fatal
    error: protocol.data_received() call failed' with a traceback."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with raw_server(handler) as url, pooled(url) as pool:
        with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(Http1Error):
            await pool.request("GET", "/x", [], b"", timeout=5)
        fatal = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert fatal == []


# -- further cases ------------------------------------------------------------------------------


async def test_answers_in_one_byte_pieces_with_interim_answers_over_keep_alive() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for n in range(3):
            await read_request(reader)
            data = (
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-N: %d\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" % n
            )
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0)

    async with raw_server(handler) as url, pooled(url) as pool:
        answers = [await pool.request("GET", f"/{n}", [], b"", timeout=5) for n in range(3)]
    assert [(a.status, a.body, dict(a.headers)["X-N"]) for a in answers] == [
        (200, b"abcde", "0"),
        (200, b"abcde", "1"),
        (200, b"abcde", "2"),
    ]
    assert connections == 1


async def test_answers_without_a_body_keep_the_connection_in_step() -> None:
    """204 and 304 have no body whatever Content-Length says; the next answer on the same
    connection is read as its own."""
    replies = [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast",
    ]
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for reply in replies:
            await read_request(reader)
            writer.write(reply)
            await writer.drain()

    async with raw_server(handler) as url, pooled(url) as pool:
        answers = [
            await pool.request(method, "/x", [], b"", timeout=5) for method in ("DELETE", "GET", "GET")
        ]
    assert [(a.status, a.body) for a in answers] == [(204, b""), (304, b""), (200, b"last")]
    assert connections == 1


async def test_a_get_whose_answer_was_cut_off_on_a_reused_connection_is_not_sent_again() -> None:
    """The retry rule's second half: a byte of an answer came back, so even a GET is not
    retried."""
    seen: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        seen.append(line)
        writer.write(OK)
        await writer.drain()
        line, _, _ = await read_request(reader)
        seen.append(line)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart")
        await writer.drain()

    async with raw_server(handler) as url, pooled(url) as pool:
        await pool.request("GET", "/one", [], b"", timeout=5)
        with pytest.raises(ConnectionLost):
            await pool.request("GET", "/two", [], b"", timeout=5)
    assert seen == ["GET /one HTTP/1.1", "GET /two HTTP/1.1"]


async def test_closing_the_pool_lets_a_call_in_flight_finish_then_drops_its_connection() -> None:
    arrived, release, server_saw_eof = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        arrived.set()
        await release.wait()
        writer.write(OK)
        await writer.drain()
        await reader.read()  # until the client drops the connection
        server_saw_eof.set()

    async with raw_server(handler) as url:
        pool = Http1Pool(url)
        order = asyncio.create_task(pool.request("POST", "/api/v3/order", [], b"side=BUY", timeout=5))
        try:
            await asyncio.wait_for(arrived.wait(), 5)
            await pool.close()
            release.set()
            answer = await order
            await asyncio.wait_for(server_saw_eof.wait(), 5)
            with pytest.raises(ConnectFailed):
                await pool.request("GET", "/x", [], b"", timeout=5)
        finally:
            release.set()
            order.cancel()
            await asyncio.gather(order, return_exceptions=True)
    assert answer.body == b"ok"
    assert len(pool._idle) == 0
