"""Streaming exports round-trip: a few thousand rows as JSON Lines equal what the search
API answers, row for row, and the CSV holds the same values cell for cell."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.audit.exports import csv_cell
from gateway.feeds.markets import utcnow
from gateway.store.decisions import EXPORT_FIELDS
from policy.decision import Outcome
from tests.audit.support import ADDRESS, decision, record_all
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, admin, new_customer

pytestmark = pytest.mark.asyncio
ROWS = 3000


async def _export(http: aiohttp.ClientSession, gateway: Gateway, query: str) -> tuple[bytes, Any]:
    async with http.get(
        f"{gateway.url}/admin/v1/decisions/export?{query}",
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as response:
        assert response.status == 200, await response.text()
        return await response.read(), response.headers


async def _search_all(http: aiohttp.ClientSession, gateway: Gateway, query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, body = await admin(
            http, gateway.url, "GET", f"/admin/v1/decisions?{query}&limit=500{cursor}", token=AUDITOR_TOKEN
        )
        assert status == 200, body
        found += body["decisions"]
        if body["next_cursor"] is None:
            return found
        cursor = f"&cursor={body['next_cursor']}"


async def test_exports_round_trip(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customers = [(await new_customer(http, gateway.url, f"trader-{i}")).id for i in range(3)]
    start = utcnow() - timedelta(hours=2)
    rows = [
        decision(
            customers[i % 3], at=start + timedelta(milliseconds=997 * i), quantity=f"0.{i:04d}1",
            outcome=Outcome.DENY if i % 7 == 0 else Outcome.ALLOW, rule_id="core.test.r" if i % 7 == 0 else None,
            address=ADDRESS if i % 5 == 0 else None, client_order_id=f"order-{i}",
        )
        for i in range(ROWS)
    ]  # fmt: skip
    for chunk in range(0, ROWS, 500):
        await record_all(gateway, rows[chunk : chunk + 500])

    query = "sort=asc"
    expected = await _search_all(http, gateway, query)
    assert len(expected) == ROWS

    body, headers = await _export(http, gateway, f"format=jsonl&{query}")
    assert headers["Content-Type"].startswith("application/x-ndjson")
    assert "Content-Length" not in headers, "streamed, not built in memory"
    exported = [orjson.loads(line) for line in body.splitlines()]
    assert exported == expected

    body, headers = await _export(http, gateway, f"format=csv&{query}")
    assert headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(body.decode())))
    assert table[0] == list(EXPORT_FIELDS)
    assert table[1:] == [[csv_cell(row[f]) for f in EXPORT_FIELDS] for row in exported]

    body, _ = await _export(http, gateway, f"format=jsonl&outcome=deny&customer_id={customers[0]}")
    assert len(body.splitlines()) == len([i for i in range(ROWS) if i % 7 == 0 and i % 3 == 0])


async def test_an_export_needs_a_format(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/decisions/export", token=AUDITOR_TOKEN)
    assert status == 422 and body["error"]["details"][0]["field"] == "format"


FORMULAS = [
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|x",
    "@SUM(A1:A9)",
    "\tcmd-tab-x",
    "\rcmd-cr-xx",
    "\uff1d1+1+1+1",
]


async def test_exports_neutralise_formulas_in_csv_only(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = (await new_customer(http, gateway.url, "formula-trader")).id
    start = utcnow() - timedelta(minutes=5)
    await record_all(
        gateway,
        [
            decision(customer, at=start + timedelta(seconds=i), client_order_id=text)
            for i, text in enumerate(FORMULAS)
        ],
    )
    body, _ = await _export(http, gateway, "format=jsonl&sort=asc")
    shown = [orjson.loads(line)["client_order_id"] for line in body.splitlines()]  # masked by role
    body, _ = await _export(http, gateway, "format=csv&sort=asc")
    table = list(csv.reader(io.StringIO(body.decode(), newline="")))
    cells = [row[table[0].index("client_order_id")] for row in table[1:]]
    escaped = [value for value in shown if value.startswith(("=", "+", "-", "@", "\t", "\r", "\uff1d"))]
    assert len(escaped) >= 4, shown  # the masking keeps the first characters of these
    assert cells == ["'" + value if value in escaped else value for value in shown]
