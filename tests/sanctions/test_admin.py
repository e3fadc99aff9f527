"""The admin API of sanctions lists: who may do what, one error shape, bad bodies storing
nothing, the check of one address against the list in force."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway import appkeys as K
from gateway.http.admin.errors import ERROR_CODES
from gateway.sanctions.service import packaged_snapshot
from tests.conftest import Gateway
from tests.sanctions.conftest import BECH32, TORNADO, TRON, UNLISTED_EVM, packaged_without_tornado
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, admin

pytestmark = pytest.mark.asyncio
SNAPSHOTS = "/admin/v1/sanctions/snapshots"
CHECK = "/admin/v1/sanctions/check"


def assert_error_shape(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and code in ERROR_CODES
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


ROLE_CASES = [
    # (id, method, path, token, status)
    ("auditor-reads", "GET", SNAPSHOTS, AUDITOR_TOKEN, 200),
    ("operator-reads", "GET", SNAPSHOTS, OPERATOR_TOKEN, 200),
    ("officer-reads", "GET", SNAPSHOTS, OFFICER_TOKEN, 200),
    ("auditor-cannot-load", "POST", SNAPSHOTS, AUDITOR_TOKEN, 403),
    ("operator-loads", "POST", SNAPSHOTS, OPERATOR_TOKEN, 201),
    ("officer-loads", "POST", SNAPSHOTS, OFFICER_TOKEN, 201),
    ("officer-checks", "GET", f"{CHECK}?address={BECH32}", OFFICER_TOKEN, 200),
    ("auditor-cannot-check", "GET", f"{CHECK}?address={BECH32}", AUDITOR_TOKEN, 403),
    ("operator-cannot-check", "GET", f"{CHECK}?address={BECH32}", OPERATOR_TOKEN, 403),
    ("no-token", "GET", SNAPSHOTS, "", 401),
]


@pytest.mark.parametrize(
    ("method", "path", "token", "status"), [c[1:] for c in ROLE_CASES], ids=[c[0] for c in ROLE_CASES]
)
async def test_roles(
    gateway: Gateway, http: aiohttp.ClientSession, method: str, path: str, token: str, status: int
) -> None:
    body_in = packaged_without_tornado() if method == "POST" else None
    got, body = await admin(http, gateway.url, method, path, token=token, json=body_in)
    assert got == status, body
    if status >= 400:
        assert_error_shape(body, {401: "unauthorized", 403: "forbidden"}[status])


async def test_listing_names_the_current_snapshot(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, loaded = await admin(http, gateway.url, "POST", SNAPSHOTS, json=packaged_without_tornado())
    assert status == 201, loaded
    status, body = await admin(http, gateway.url, "GET", SNAPSHOTS, token=AUDITOR_TOKEN)
    assert status == 200
    new_id = loaded["snapshot"]["id"]
    assert body["current"] == body["in_force_here"] == new_id
    assert [(s["id"], s["current"]) for s in body["snapshots"]] == [
        (new_id, True),
        (packaged_snapshot().id, False),
    ]
    newest = body["snapshots"][0]
    assert (newest["list"], newest["as_of"], newest["address_count"]) == (
        "OFAC SDN (test)",
        "2025-03-21",
        639,
    )
    assert newest["loaded_by"].startswith("admin:operator:")
    event = await gateway.pool.fetchrow(
        "SELECT actor, details FROM audit_events WHERE kind = 'list_snapshot.loaded' AND subject_id = $1",
        new_id,
    )
    assert event["actor"] == newest["loaded_by"] and event["details"]["delisted"] == 1


async def test_an_identical_body_is_answered_200_unchanged(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    for expected in ((201, "loaded"), (200, "unchanged")):
        status, body = await admin(http, gateway.url, "POST", SNAPSHOTS, json=packaged_without_tornado())
        assert (status, body["outcome"]) == expected


def _entries(*addresses: dict[str, Any]) -> dict[str, Any]:
    return {"list": "test list", "as_of": "2025-01-01", "addresses": list(addresses)}


BAD_BODIES = [
    # (id, body, field named in the details)
    ("not-an-object", [TORNADO], None),
    ("no-list-name", {"as_of": "2025-01-01", "addresses": [{"address": TORNADO}]}, "list"),
    ("empty-list-name", {**_entries({"address": TORNADO}), "list": ""}, "list"),
    ("as-of-not-a-date", {**_entries({"address": TORNADO}), "as_of": "last tuesday"}, "as_of"),
    ("as-of-in-the-future", {**_entries({"address": TORNADO}), "as_of": "2999-01-01"}, "as_of"),
    ("no-addresses", _entries(), "addresses"),
    ("addresses-not-a-list", {**_entries(), "addresses": TORNADO}, "addresses"),
    ("unknown-field", {**_entries({"address": TORNADO}), "source_url": "x"}, "source_url"),
    ("unknown-entry-field", _entries({"address": TORNADO, "chain": "ETH"}), "addresses.0.chain"),
    ("empty-address", _entries({"address": ""}), "addresses.0.address"),
    ("address-too-long", _entries({"address": "T" * 200}), "addresses.0.address"),
    ("bad-network-code", _entries({"address": TORNADO, "network": "E-TH"}), "addresses.0.network"),
    # One bad entry refuses the whole list: the good ones are not stored either.
    (
        "short-evm-on-eth",
        _entries({"address": TRON}, {"address": TORNADO[:-1], "network": "ETH"}),
        "addresses.1.address",
    ),
    ("non-hex-0x", _entries({"address": "0x" + "zz" * 20}), "addresses.0.address"),
    ("mixed-case-bech32", _entries({"address": BECH32[:10] + BECH32[10:].upper()}), "addresses.0.address"),
    ("space-in-address", _entries({"address": "bc1q 05ak"}), "addresses.0.address"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
async def test_bad_bodies_store_nothing(
    gateway: Gateway, http: aiohttp.ClientSession, body: Any, field: str | None
) -> None:
    events_before = await gateway.pool.fetchval("SELECT count(*) FROM audit_events")
    status, answer = await admin(http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=body)
    assert status == 422, answer
    assert_error_shape(answer, "validation_failed")
    if field is not None:
        details = answer["error"]["details"]
        # A body that is not a snapshot names fields; entries that are not addresses are
        # listed with the summary (each still naming its field).
        problems = details["problems"] if isinstance(details, dict) else details
        assert field in {d["field"] for d in problems}
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_snapshots") == 1
    assert await gateway.pool.fetchval("SELECT count(*) FROM audit_events") == events_before
    assert gateway.app[K.SANCTIONS].current.snapshot_id == packaged_snapshot().id


async def test_a_body_that_is_not_json_stores_nothing(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    headers = {"Authorization": f"Bearer {OFFICER_TOKEN}", "Content-Type": "application/json"}
    async with http.post(gateway.url + SNAPSHOTS, data=b"{not json", headers=headers) as response:
        assert response.status == 400
        assert_error_shape(await response.json(), "invalid_json")
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_snapshots") == 1


CHECKS = [
    # (id, query, listed)
    ("eip55-as-listed", f"address={TORNADO}", True),
    ("evm-lower-case", f"address={TORNADO.lower()}", True),
    ("evm-upper-case-hex", f"address=0x{TORNADO[2:].upper()}&network=ETH", True),
    ("evm-on-another-chain", f"address={TORNADO.lower()}&network=BSC", True),
    ("bech32-upper-case", f"address={BECH32.upper()}", True),
    ("tron-as-listed", f"address={TRON}", True),
    ("tron-case-changed-is-another-address", f"address={TRON.lower()}", False),
    ("unlisted", f"address={UNLISTED_EVM}", False),
]


@pytest.mark.parametrize(("query", "listed"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
async def test_check_an_address(
    gateway: Gateway, http: aiohttp.ClientSession, query: str, listed: bool
) -> None:
    status, body = await admin(http, gateway.url, "GET", f"{CHECK}?{query}", token=OFFICER_TOKEN)
    assert status == 200, body
    assert body["listed"] is listed
    assert (body["snapshot_id"], body["as_of"]) == (packaged_snapshot().id, "2024-09-27")


async def test_a_delisted_address_is_unlisted_after_the_switch(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    _, before = await admin(http, gateway.url, "GET", f"{CHECK}?address={TORNADO}", token=OFFICER_TOKEN)
    assert before["listed"] and before["listed_for"] == ["ETH"]
    status, loaded = await admin(
        http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=packaged_without_tornado()
    )
    assert status == 201
    _, after = await admin(http, gateway.url, "GET", f"{CHECK}?address={TORNADO}", token=OFFICER_TOKEN)
    assert (after["listed"], after["snapshot_id"]) == (False, loaded["snapshot"]["id"])


BAD_CHECKS = [
    ("no-address", "", "address"),
    ("empty-address", "address=", "address"),
    ("mixed-case-bech32", f"address={BECH32[:10]}{BECH32[10:].upper()}", "address"),
    ("short-evm-on-eth", f"address={TORNADO[:-1]}&network=ETH", "address"),
    ("unknown-parameter", f"address={TORNADO}&asset=ETH", "asset"),
]


@pytest.mark.parametrize(("query", "field"), [c[1:] for c in BAD_CHECKS], ids=[c[0] for c in BAD_CHECKS])
async def test_bad_checks(gateway: Gateway, http: aiohttp.ClientSession, query: str, field: str) -> None:
    status, body = await admin(http, gateway.url, "GET", f"{CHECK}?{query}", token=OFFICER_TOKEN)
    assert status == 422
    assert_error_shape(body, "validation_failed")
    assert body["error"]["details"][0]["field"] == field
