"""The HTTP edge: what aiohttp cannot parse, paths outside the APIs, the Server header.

Malformed requests are sent as raw bytes on a socket, as an attacker or a broken client
would: each must get the same fixed 400 in the exchange's shape (quoting none of the
sent bytes), close the connection, be counted by kind, and never log an ERROR; a flood
of them logs one WARNING.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from gateway import appkeys as K
from gateway.http.edge_protocol import SERVER_NAME, RateLimitedWarning
from tests.conftest import Exchange, Gateway, runtime_dsn
from tests.support import OPERATOR_TOKEN, SECRET_KEY, SERVICE_TOKEN

# Put into every malformed request where the parser would quote it.
MARKER = b"Zq7Marker"
_READ_SECONDS = 10.0  # a bound on the wait, not a speed expectation
_START_ATTEMPTS = 150


@dataclass(frozen=True)
class Malformed:
    id: str
    raw: bytes
    kind: str


MALFORMED = [
    Malformed(
        "bad request line", b"GET /" + MARKER + b" HTTP/1.1 trailing\r\nHost: x\r\n\r\n", "request_line"
    ),
    Malformed("bad HTTP version", b"GET /" + MARKER + b" HTTP/7.1\r\nHost: x\r\n\r\n", "request_line"),
    Malformed("invalid method token", b"G@T" + MARKER + b" / HTTP/1.1\r\nHost: x\r\n\r\n", "method"),
    Malformed("not HTTP at all", MARKER + b"\x16\x03\x01 garbage\r\n\r\n", "method"),
    Malformed(
        "Content-Length with Transfer-Encoding",
        b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
        + MARKER
        + b"\r\n\r\n0\r\n\r\n",
        "framing",
    ),
    Malformed(
        "100 kB header",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + MARKER * 10_000 + b"\r\n\r\n",
        "too_large",
    ),
    Malformed(
        "too many headers",
        b"GET /healthz HTTP/1.1\r\n"
        + b"".join(b"X-%d: " % i + MARKER + b"\r\n" for i in range(300))
        + b"\r\n",
        "too_large",
    ),
    Malformed(
        "NUL in a header value",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + MARKER + b"\x00\r\n\r\n",
        "header",
    ),
    Malformed(
        "CR in a header value",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + MARKER + b"\rb\r\n\r\n",
        "header",
    ),
    Malformed("HTTP/0.9", b"GET /healthz?" + MARKER + b"\r\n\r\n", "http09"),
    # As HTTP/0.9 clients send it: one line and nothing after, answered without waiting.
    Malformed("HTTP/0.9, one line", b"GET /healthz?" + MARKER + b"\r\n", "http09"),
    Malformed("HTTP/0.9, bare LF", b"GET /api/v3/ping\n", "http09"),
]


async def raw_exchange(base: str, data: bytes) -> bytes:
    """Send `data` on a fresh connection; everything the server answers until it closes."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), _READ_SECONDS)  # read() ends at the close
    finally:
        writer.close()


def split_answer(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


def malformed_count(gateway: Gateway, kind: str) -> float:
    value = gateway.app[K.METRICS].registry.get_sample_value(
        "gateway_malformed_requests_total", {"kind": kind}
    )
    return value or 0.0


@pytest.mark.asyncio
@pytest.mark.parametrize("case", MALFORMED, ids=[c.id for c in MALFORMED])
async def test_a_malformed_request_gets_a_fixed_400_counted_and_not_logged_as_error(
    gateway: Gateway, case: Malformed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = malformed_count(gateway, case.kind)
    status_line, headers, body = split_answer(await raw_exchange(gateway.url, case.raw))
    assert status_line.split(" ")[1] == "400", status_line
    assert orjson.loads(body) == {
        "code": -1100, "msg": "malformed_request: The request could not be read as HTTP/1.1."
    }  # fmt: skip
    assert headers["server"] == SERVER_NAME
    assert headers["connection"] == "close"
    assert headers["content-type"].startswith("application/json")
    assert malformed_count(gateway, case.kind) == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Neither the answer nor the log quotes what the client sent.
    assert MARKER.decode() not in caplog.text
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("aiohttp"))


@pytest.mark.asyncio
async def test_a_flood_of_malformed_requests_logs_one_warning(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for case in MALFORMED * 3:
        answer = await raw_exchange(gateway.url, case.raw)
        assert answer.startswith(b"HTTP/") and b" 400 " in answer.split(b"\r\n")[0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The whole flood is in the metric, by kind.
    total = sum(malformed_count(gateway, kind) for kind in {c.kind for c in MALFORMED})
    assert total == len(MALFORMED) * 3


def test_held_back_warnings_are_counted_into_the_next() -> None:
    now = [0.0]
    logger = logging.getLogger("tests.edge")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    try:
        warning = RateLimitedWarning(logger, interval=60.0, clock=lambda: now[0])
        warning.event("header")  # logged: the first
        for _ in range(4):
            now[0] += 10.0
            warning.event("framing")  # held back: within the minute
        now[0] += 30.0
        warning.event("header")  # 70 s after the first: logged, with the ones held back
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert len(messages) == 2
    assert "refused 1 " in messages[0] and "header=1" in messages[0]
    assert "refused 5 " in messages[1] and "framing=4" in messages[1] and "header=1" in messages[1]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "method, path, status, reason",
    [
        ("GET", "/", 404, "unknown_endpoint"),
        ("GET", "/wp-login.php?user=x", 404, "unknown_endpoint"),
        ("GET", "/api", 404, "unknown_endpoint"),  # the prefix without its slash: outside
        ("POST", "/healthz", 405, "method_not_allowed"),
        ("DELETE", "/metrics", 405, "method_not_allowed"),
    ],
    ids=["root", "a probe with a query", "prefix without slash", "POST healthz", "DELETE metrics"],
)
async def test_outside_the_apis_the_answer_is_in_the_exchange_shape(
    gateway: Gateway, http: aiohttp.ClientSession, method: str, path: str, status: int, reason: str
) -> None:
    async with http.request(method, gateway.url + path) as response:
        assert response.status == status
        body = await response.json(content_type=None)
        assert response.headers["Server"] == SERVER_NAME
    assert set(body) == {"code", "msg"} and isinstance(body["code"], int)
    assert body["msg"].startswith(f"{reason}: ")
    assert "wp-login" not in body["msg"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["/healthz", "/metrics", "/api/v3/ping", "/api/v3/account", "/admin/v1/customers", "/nowhere"]
)
async def test_no_answer_names_a_version(gateway: Gateway, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(gateway.url + path) as response:
        await response.read()
        assert response.headers.getall("Server") == [SERVER_NAME]
        for value in response.headers.values():
            assert "aiohttp" not in value.lower() and "python" not in value.lower()


@pytest.mark.asyncio
async def test_a_streamed_export_names_no_version_either(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    from tests.support import AUDITOR_TOKEN

    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    async with http.get(gateway.url + "/admin/v1/decisions/export?format=jsonl", headers=headers) as response:
        assert response.status == 200
        await response.read()
        assert response.headers["Server"] == SERVER_NAME
        assert response.headers["X-Request-Id"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_python_m_gateway_serve_has_the_same_edge(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, repo_root: Path
) -> None:
    """The served process, not only the tests' runner: same answer, JSON logs, no ERROR,
    and a clean exit on SIGTERM."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=runtime_dsn(database_url), GATEWAY_MIGRATION_DATABASE_URL=database_url,
        GATEWAY_UPSTREAM_URL=exchange.url, GATEWAY_UPSTREAM_TOKEN=SERVICE_TOKEN, GATEWAY_SECRET_KEY=SECRET_KEY,
        GATEWAY_ADMIN_TOKENS=f"operator:{OPERATOR_TOKEN}", GATEWAY_HOST="127.0.0.1", GATEWAY_PORT=str(port),
        GATEWAY_LOG_FORMAT="json", GATEWAY_ACCESS_LOG="true",
    )  # fmt: skip
    served = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=repo_root, env=env, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(_START_ATTEMPTS):  # bounded: the process may take a few seconds to start
            try:
                async with http.get(base + "/healthz") as response:
                    assert response.headers["Server"] == SERVER_NAME
                    break
            except aiohttp.ClientConnectionError:
                assert served.returncode is None, "the gateway exited at start"
                await asyncio.sleep(0.2)
        else:
            pytest.fail("the gateway did not start")
        status_line, headers, body = split_answer(await raw_exchange(base, MALFORMED[4].raw))
        assert " 400 " in status_line and headers["server"] == SERVER_NAME
        assert orjson.loads(body)["msg"].startswith("malformed_request: ")
    finally:
        served.send_signal(signal.SIGTERM)
        assert served.stderr is not None
        err = await asyncio.wait_for(served.stderr.read(), _READ_SECONDS * 3)
        code = await asyncio.wait_for(served.wait(), _READ_SECONDS * 3)
    assert code == 0
    records = [orjson.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], records
    assert any(r["level"] == "WARNING" and "malformed" in r["message"] for r in records)
    assert any(r.get("route") == "/healthz" and r.get("request_id") for r in records)
    assert MARKER.decode() not in err.decode()
