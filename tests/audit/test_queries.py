"""Decision search for auditors: every filter, both sort orders, cursor pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from gateway.feeds.markets import utcnow
from policy.action import ActionKind
from policy.decision import Outcome
from tests.audit.support import decision, iso, record_all
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, admin, new_customer

pytestmark = pytest.mark.asyncio
START = utcnow().replace(microsecond=0) - timedelta(hours=1)


def at(minutes: int) -> Any:
    return START + timedelta(minutes=minutes)


# label -> (customer, decision arguments); notional = quantity x price
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "a-small-buy": ("alice", {"at": at(1), "quantity": "0.01", "price": "20000"}),  # 200 USDT
    "a-big-buy": ("alice", {"at": at(2), "quantity": "1", "price": "30000"}),  # 30000 USDT
    "a-denied": (
        "alice",
        {"at": at(3), "outcome": Outcome.DENY, "rule_id": "core.instrument.unknown_symbol"},
    ),
    "a-eth": ("alice", {"at": at(4), "symbol": "ETHBTC", "quantity": "2", "price": "0.05", "country": "KR"}),
    "b-held": ("bob", {"at": at(5), "outcome": Outcome.HOLD, "rule_id": "kr.travel_rule", "country": "KR"}),
    "b-cancel": ("bob", {"at": at(6), "kind": ActionKind.CANCEL, "country": "US-NY"}),
}

CASES = [
    ("everything", "", list(ROWS)),
    ("customer", "customer_id={alice}", ["a-small-buy", "a-big-buy", "a-denied", "a-eth"]),
    ("outcome", "outcome=deny", ["a-denied"]),
    ("action-kind", "action_kind=cancel", ["b-cancel"]),
    ("rule-id", "rule_id=kr.travel_rule", ["b-held"]),
    ("reason-code", "reason=unknown_symbol", ["a-denied"]),
    ("country", "country=KR", ["a-eth", "b-held"]),
    ("country-with-region", "country=US-NY", ["b-cancel"]),
    ("asset-as-base", "asset=ETH", ["a-eth"]),
    ("asset-as-base-or-quote", "asset=BTC", list(ROWS)),
    ("amount-range", "notional_min=100&notional_max=1000", ["a-small-buy"]),
    ("amount-from", "notional_min=20000", ["a-big-buy"]),
    ("time-range", "since={t3}&until={t5}", ["a-denied", "a-eth"]),
    ("customer-and-time", "customer_id={bob}&since={t5}", ["b-held", "b-cancel"]),
    ("review-status-not-yet-recorded", "review_status=pending", []),
    ("combined", "customer_id={alice}&outcome=allow&asset=USDT&notional_min=1000", ["a-big-buy"]),
]  # fmt: skip


@pytest_asyncio.fixture
async def people(gateway: Gateway, http: aiohttp.ClientSession) -> dict[str, str]:
    ids = {name: (await new_customer(http, gateway.url, name)).id for name in ("alice", "bob")}
    labels = list(ROWS)
    rows = [decision(ids[ROWS[label][0]], **ROWS[label][1]) for label in labels]
    await record_all(gateway, rows)
    ids.update({str(row.id): label for row, label in zip(rows, labels, strict=True)})
    ids.update({f"t{n}": iso(at(n)) for n in range(10)})
    return ids


async def _page(http: aiohttp.ClientSession, gateway: Gateway, query: str) -> dict[str, Any]:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/decisions?" + query, token=AUDITOR_TOKEN)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_filters(
    gateway: Gateway, http: aiohttp.ClientSession, people: dict[str, str], query: str, expected: list[str]
) -> None:
    body = await _page(http, gateway, query.format(**people).replace("+", "%2B") + "&sort=asc")
    assert [people[d["id"]] for d in body["decisions"]] == expected


@pytest.mark.parametrize("sort", ["asc", "desc"])
async def test_pages_follow_the_sort_order(
    gateway: Gateway, http: aiohttp.ClientSession, people: dict[str, str], sort: str
) -> None:
    seen: list[str] = []
    query = f"sort={sort}&limit=2"
    while True:
        body = await _page(http, gateway, query)
        seen += [people[d["id"]] for d in body["decisions"]]
        if body["next_cursor"] is None:
            break
        query = f"sort={sort}&limit=2&cursor={body['next_cursor']}"
    assert seen == (list(ROWS) if sort == "asc" else list(reversed(ROWS)))


BAD = [
    ("amount-range-upside-down", "notional_min=10&notional_max=1"),
    ("amount-with-exponent", "notional_min=1e3"),
    ("negative-amount", "notional_min=-5"),
    ("lower-case-country", "country=kr"),
    ("unknown-review-status", "review_status=maybe"),
    ("unknown-sort", "sort=sideways"),
    ("empty-time-range", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"),
    ("justification-without-unmask", "justification=because+I+said+so"),
]


@pytest.mark.parametrize("query", [c[1] for c in BAD], ids=[c[0] for c in BAD])
async def test_bad_filters_name_the_field(gateway: Gateway, http: aiohttp.ClientSession, query: str) -> None:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/decisions?" + query, token=AUDITOR_TOKEN)
    assert status == 422 and body["error"]["code"] == "validation_failed"
    assert body["error"]["details"][0]["field"] in query


async def test_a_cursor_keeps_its_sort_order(
    gateway: Gateway, http: aiohttp.ClientSession, people: dict[str, str]
) -> None:
    cursor = (await _page(http, gateway, "sort=desc&limit=1"))["next_cursor"]
    status, body = await admin(
        http, gateway.url, "GET", f"/admin/v1/decisions?sort=asc&cursor={cursor}", token=AUDITOR_TOKEN
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "cursor"
