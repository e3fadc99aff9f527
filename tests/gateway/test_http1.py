"""The gateway's own HTTP/1.1 client to the exchange (gateway/feeds/http1.py), against real
servers on 127.0.0.1: aiohttp for well-behaved answers, raw asyncio servers for the
framings and failures aiohttp would never produce."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.feeds.http1 import BadResponse, ConnectFailed, ConnectionLost, Http1Pool
from gateway.feeds.upstream import Upstream, UpstreamTimeout, UpstreamUnavailable
from tests.support import serving

pytestmark = pytest.mark.asyncio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A server speaking whatever `handler` writes; every connection is closed, and every
    handler finished, when the block ends."""
    tasks: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@asynccontextmanager
async def pooled(url: str, **options: Any) -> AsyncIterator[Http1Pool]:
    """A pool to `url`, closed when the block ends."""
    pool = Http1Pool(url, **options)
    try:
        yield pool
    finally:
        await pool.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    line, *fields = head.split("\r\n")[:-2]
    headers = {k.lower(): v for k, v in (f.split(": ", 1) for f in fields)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return line, headers, body


def echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return web.json_response(
            {
                "method": request.method,
                "path_qs": request.raw_path,
                "headers": dict(request.headers),
                "body": (await request.read()).decode(),
                "peer_port": peer[1] if peer else None,
            }
        )

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"a":', b'"chunked",', b'"n":3}'):
            await response.write(part)
        await response.write_eof()
        return response

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"packed":true}'), headers={"Content-Encoding": "gzip"})

    async def closing(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/close", closing)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_requests_carry_method_target_headers_and_body_and_reuse_one_connection() -> None:
    async with serving(echo_app()) as url, pooled(url) as pool:
        first = await pool.request(
            "POST",
            "/api/v3/order?symbol=BTCUSDT&x=%20y",
            [("X-Gateway-Token", "t0k"), ("Content-Type", "application/x-www-form-urlencoded")],
            b"side=BUY&quantity=1",
            timeout=5,
        )
        second = await pool.request("GET", "/api/v3/account", [], b"", timeout=5)
    assert first.status == 200
    sent = orjson.loads(first.body)
    assert sent["method"] == "POST"
    assert sent["path_qs"] == "/api/v3/order?symbol=BTCUSDT&x=%20y"  # bytes as given, not re-encoded
    assert sent["headers"]["X-Gateway-Token"] == "t0k"
    assert sent["headers"]["Content-Length"] == str(len(b"side=BUY&quantity=1"))
    assert sent["body"] == "side=BUY&quantity=1"
    again = orjson.loads(second.body)
    assert again["method"] == "GET" and "Content-Length" not in again["headers"]
    assert again["peer_port"] == sent["peer_port"]  # keep-alive: the same connection
    assert ("Content-Type", "application/json; charset=utf-8") in first.headers


async def test_chunked_and_gzip_answers_are_read_whole() -> None:
    async with serving(echo_app()) as url, pooled(url) as pool:
        chunked = await pool.request("GET", "/chunked", [], b"", timeout=5)
        packed = await pool.request("GET", "/gzip", [], b"", timeout=5)
    assert chunked.body == b'{"a":"chunked","n":3}'
    assert packed.body == b'{"packed":true}'


async def test_connection_close_answer_is_not_reused() -> None:
    async with serving(echo_app()) as url, pooled(url) as pool:
        bye = await pool.request("GET", "/close", [], b"", timeout=5)
        first = orjson.loads((await pool.request("GET", "/a", [], b"", timeout=5)).body)
        second = orjson.loads((await pool.request("GET", "/b", [], b"", timeout=5)).body)
    assert bye.body == b"bye"
    assert first["peer_port"] == second["peer_port"]
    assert len(pool._idle) == 0  # closed with the pool


async def test_body_delimited_by_close_and_interim_answers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end")
        await writer.drain()
        writer.close()

    async with raw_server(handler) as url, pooled(url) as pool:
        answer = await pool.request("GET", "/x", [], b"", timeout=5)
    assert (answer.status, answer.body) == (200, b"to the end")


def dropping_server(seen: list[str]) -> Handler:
    """Answers the first request on each connection, then reads the next and hangs up
    without answering: a keep-alive connection the server closed as the request came."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        seen.append(line)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        try:
            line, _, _ = await read_request(reader)
        except asyncio.IncompleteReadError:
            return
        seen.append(line)
        writer.close()

    return handler


async def test_idempotent_request_on_a_lost_keep_alive_connection_is_sent_again() -> None:
    seen: list[str] = []
    async with raw_server(dropping_server(seen)) as url, pooled(url) as pool:
        await pool.request("GET", "/one", [], b"", timeout=5)
        answer = await pool.request("GET", "/two", [], b"", timeout=5)
    assert answer.body == b"ok"
    assert seen == ["GET /one HTTP/1.1", "GET /two HTTP/1.1", "GET /two HTTP/1.1"]


async def test_an_order_on_a_lost_connection_is_never_sent_twice() -> None:
    seen: list[str] = []
    async with raw_server(dropping_server(seen)) as url, pooled(url) as pool:
        await pool.request("GET", "/one", [], b"", timeout=5)
        with pytest.raises(ConnectionLost):
            await pool.request("POST", "/api/v3/order", [], b"side=BUY", timeout=5)
    assert seen == ["GET /one HTTP/1.1", "POST /api/v3/order HTTP/1.1"]


async def test_silence_times_out_and_the_connection_is_dropped() -> None:
    connections = 0
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        if connections == 1:
            await release.wait()  # never answers in time
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
        await writer.drain()

    async with raw_server(handler) as url:
        pool = Http1Pool(url)
        try:
            with pytest.raises(TimeoutError):
                await pool.request("GET", "/slow", [], b"", timeout=0.2)
            answer = await pool.request("GET", "/next", [], b"", timeout=5)
        finally:
            release.set()
            await pool.close()
    assert answer.body == b"late"
    assert connections == 2  # the timed-out connection was not reused


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nxx",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nxx",
    ],
)
async def test_malformed_answers_are_refused(reply: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()

    async with raw_server(handler) as url, pooled(url) as pool:
        with pytest.raises(BadResponse):
            await pool.request("GET", "/x", [], b"", timeout=5)


async def test_an_answer_over_the_size_limit_is_refused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        await writer.drain()

    async with raw_server(handler) as url, pooled(url, max_body=1000) as pool:
        with pytest.raises(BadResponse, match="larger than 1000"):
            await pool.request("GET", "/x", [], b"", timeout=5)


async def test_nothing_listening_is_connect_failed() -> None:
    pool = Http1Pool("http://127.0.0.1:9")  # discard port: nothing listens there
    with pytest.raises(ConnectFailed):
        await pool.request("GET", "/x", [], b"", timeout=5)


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/x HTTP/1.1\r\nX-Evil: 1\r\n", []),
        ("GET", "/a b", []),
        ("GET", "http://elsewhere/x", []),
        ("GET", "/x", [("X-Customer-Id", "c\r\nX-Gateway-Token: forged")]),
        ("GET", "/x", [("Bad Name", "v")]),
        ("GE T", "/x", []),
    ],
)
async def test_nothing_can_smuggle_a_line_into_the_request(
    method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    pool = Http1Pool("http://127.0.0.1:9")
    with pytest.raises(ValueError):
        await pool.request(method, target, headers, b"", timeout=5)


async def test_non_ascii_in_the_target_is_percent_encoded() -> None:
    async with serving(echo_app()) as url, pooled(url) as pool:
        answer = await pool.request("GET", "/x?memo=é", [], b"", timeout=5)
    assert orjson.loads(answer.body)["path_qs"] == "/x?memo=%C3%A9"


async def test_the_limit_bounds_calls_in_flight_and_connections() -> None:
    in_flight = peak = connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, peak, connections
        connections += 1
        while True:
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with raw_server(handler) as url, pooled(url, limit=3) as pool:
        answers = await asyncio.gather(*(pool.request("GET", "/x", [], b"", timeout=10) for _ in range(20)))
    assert [a.body for a in answers] == [b"ok"] * 20
    assert peak == 3 and connections == 3


async def test_head_answer_has_no_body() -> None:
    async with serving(echo_app()) as url, pooled(url) as pool:
        head = await pool.request("HEAD", "/x", [], b"", timeout=5)
        after = await pool.request("GET", "/y", [], b"", timeout=5)
    assert (head.status, head.body) == (200, b"")
    assert orjson.loads(after.body)["path_qs"] == "/y"


async def test_upstream_maps_failures_to_its_own_errors() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(handler) as url:
        slow = Upstream(url, "t", timeout=0.2)
        await slow.open()
        try:
            with pytest.raises(UpstreamTimeout):
                await slow.forward("GET", "/api/v3/account", b"", None, "c1")
        finally:
            await slow.close()
    down = Upstream("http://127.0.0.1:9", "t", timeout=2)
    await down.open()
    try:
        with pytest.raises(UpstreamUnavailable):
            await down.forward("GET", "/api/v3/account", b"", None, "c1")
    finally:
        await down.close()


def _certificate(names: list[x509.GeneralName]) -> tuple[bytes, bytes, bytes]:
    """A CA, and a server certificate it signed for `names`: (ca, cert, key) in PEM."""
    now = datetime.now(UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("test CA", ca_key, ca_key, ca=True)
    cert = build("exchange", key, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


@asynccontextmanager
async def tls_server(
    tmp_path: Path, names: list[x509.GeneralName]
) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """The echo app over TLS; yields its URL and a client context trusting its CA."""
    ca, cert, key = _certificate(names)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    runner = web.AppRunner(echo_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}", ssl.create_default_context(cadata=ca.decode())
    finally:
        await runner.cleanup()


async def test_https_to_a_trusted_certificate(tmp_path: Path) -> None:
    async with (
        tls_server(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]) as (url, trust),
        pooled(url, ssl_context=trust) as pool,
    ):
        first = orjson.loads((await pool.request("GET", "/a", [], b"", timeout=5)).body)
        second = orjson.loads((await pool.request("POST", "/b", [], b"x=1", timeout=5)).body)
    assert (first["path_qs"], second["body"]) == ("/a", "x=1")
    assert first["peer_port"] == second["peer_port"]  # keep-alive over TLS too
    assert first["headers"]["Host"] == url.removeprefix("https://")


async def test_https_refuses_an_untrusted_or_misnamed_certificate(tmp_path: Path) -> None:
    async with tls_server(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]) as (url, _):
        pool = Http1Pool(url)  # the system's trust store does not know the test CA
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.request("GET", "/a", [], b"", timeout=5)
    async with tls_server(tmp_path, [x509.DNSName("exchange.example")]) as (url, trust):
        pool = Http1Pool(url, ssl_context=trust)  # trusted, but issued for another name
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.request("GET", "/a", [], b"", timeout=5)
