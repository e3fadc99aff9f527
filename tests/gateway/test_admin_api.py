"""The admin API: bearer roles, one error shape, customers and keys, the decision log."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.http.admin.errors import ERROR_CODES
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, admin, new_customer, signed

pytestmark = pytest.mark.asyncio


def assert_error_shape(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "details"}
    assert body["error"]["code"] == code and code in ERROR_CODES
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


AUTH_CASES = [
    ("no-token", None, 401, "unauthorized"),
    ("wrong-token", "not-a-token", 401, "unauthorized"),
    ("auditor-cannot-create", AUDITOR_TOKEN, 403, "forbidden"),
    ("officer-cannot-create", OFFICER_TOKEN, 403, "forbidden"),
]


@pytest.mark.parametrize(
    ("token", "status", "code"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES]
)
async def test_admin_auth(
    gateway: Gateway, http: aiohttp.ClientSession, token: str | None, status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(gateway.url + "/admin/v1/customers", json={"reference": "x"}, headers=headers) as r:
        assert r.status == status
        assert_error_shape(await r.json(), code)
    assert await gateway.pool.fetchval("SELECT count(*) FROM customers") == 0


BODY_CASES = [
    ("malformed-json", b'{"reference": ', "application/json", 400, "invalid_json"),
    ("wrong-type", b'{"reference": 42}', "application/json", 422, "validation_failed"),
    ("unknown-field", b'{"reference": "a", "vip": true}', "application/json", 422, "validation_failed"),
    ("bad-status", b'{"reference": "a", "status": "gold"}', "application/json", 422, "validation_failed"),
    ("empty-reference", b'{"reference": ""}', "application/json", 422, "validation_failed"),
    (
        "not-json-content-type",
        b"reference=a",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_content_type",
    ),
    ("oversized", b'{"reference": "' + b"a" * 100_000 + b'"}', "application/json", 413, "body_too_large"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"), [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES]
)
async def test_malformed_admin_bodies_change_nothing(
    gateway: Gateway, http: aiohttp.ClientSession, body: bytes, content_type: str, status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}", "Content-Type": content_type}
    async with http.post(gateway.url + "/admin/v1/customers", data=body, headers=headers) as r:
        assert r.status == status
        assert_error_shape(await r.json(), code)
    assert await gateway.pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_validation_errors_name_the_field(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, body = await admin(http, gateway.url, "POST", "/admin/v1/customers", json={"reference": 42})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "reference"


async def test_unknown_routes_and_methods_use_the_error_shape(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/nothing")
    assert status == 404
    assert_error_shape(body, "not_found")
    status, body = await admin(http, gateway.url, "PUT", "/admin/v1/decisions")
    assert status == 405
    assert_error_shape(body, "method_not_allowed")
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/customers/not-a-uuid")
    assert status == 404
    assert_error_shape(body, "not_found")


async def test_customer_lifecycle_and_key_revocation(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    dave = await new_customer(http, gateway.url, "dave")
    status, body = await admin(http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "dave"})
    assert status == 409
    assert_error_shape(body, "conflict")

    status, keys = await admin(
        http, gateway.url, "GET", f"/admin/v1/customers/{dave.id}/api-keys", token=AUDITOR_TOKEN
    )
    assert status == 200 and len(keys["api_keys"]) == 1
    assert "secret" not in keys["api_keys"][0] and "secret_ciphertext" not in keys["api_keys"][0]
    stored = await gateway.pool.fetchval("SELECT secret_ciphertext FROM api_keys")
    assert dave.secret.encode() not in stored, "secrets are encrypted at rest"

    status, _, _ = await signed(http, gateway.url, "GET", "/api/v3/account", dave, {})
    assert status == 200
    status, key = await admin(http, gateway.url, "DELETE", f"/admin/v1/api-keys/{keys['api_keys'][0]['id']}")
    assert status == 200 and key["status"] == "revoked"
    status, body, _ = await signed(http, gateway.url, "GET", "/api/v3/account", dave, {})
    assert (status, body["code"]) == (401, -2015)

    status, changed = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/customers/{dave.id}", json={"status": "closed"}
    )
    assert status == 200 and changed["status"] == "closed"
    status, listed = await admin(http, gateway.url, "GET", "/admin/v1/customers?limit=10")
    assert [c["reference"] for c in listed["customers"]] == ["dave"]
    status, listed = await admin(
        http, gateway.url, "GET", "/admin/v1/customers?limit=10", token=AUDITOR_TOKEN
    )
    assert [c["reference"] for c in listed["customers"]] == ["d…"], "an auditor sees references masked"


async def test_masked_viewers_page_customers_by_sealed_token_only(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    hidden = await new_customer(http, gateway.url, "kimminjun1990")
    # A plain `after` would answer "is the hidden reference greater than X?": a binary
    # search recovers a masked reference in a hundred calls.
    for token in (AUDITOR_TOKEN, OFFICER_TOKEN):
        status, body = await admin(http, gateway.url, "GET", "/admin/v1/customers?after=k", token=token)
        assert status == 422, body
        assert_error_shape(body, "validation_failed")
        assert body["error"]["details"] == [{"field": "after", "problem": "not a page token this API issued"}]
    # Unmasking one customer does not unmask the list's order; refused before it is logged.
    why = "&justification=case%202026-7%20review"
    status, body = await admin(
        http, gateway.url, "GET", f"/admin/v1/customers?after=k&unmask={hidden.id}{why}", token=OFFICER_TOKEN
    )
    assert status == 422, body
    unmasked = "SELECT count(*) FROM audit_events WHERE kind = 'personal_data.unmasked'"
    assert await gateway.pool.fetchval(unmasked) == 0
    # The sealed token they are given still pages; an operator sees references and may page by one.
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/customers?limit=1", token=AUDITOR_TOKEN)
    assert status == 200 and body["next"].startswith("sealed:")
    status, body = await admin(
        http, gateway.url, "GET", f"/admin/v1/customers?limit=1&after={body['next']}", token=AUDITOR_TOKEN
    )
    assert (status, body["customers"]) == (200, [])
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/customers?after=k")
    assert status == 200 and [c["reference"] for c in body["customers"]] == ["kimminjun1990"]


NULL_CASES = [
    ("create-null-type", "POST", {"reference": "bob", "customer_type": None}, "customer_type"),
    ("create-null-status", "POST", {"reference": "bob", "status": None}, "status"),
    ("create-null-reference", "POST", {"reference": None}, "reference"),
    ("change-null-status", "PATCH", {"status": None}, "status"),
    ("change-null-type", "PATCH", {"customer_type": None}, "customer_type"),
]


@pytest.mark.parametrize(
    ("method", "body", "field"), [c[1:] for c in NULL_CASES], ids=[c[0] for c in NULL_CASES]
)
async def test_null_for_a_required_customer_field_is_refused(
    gateway: Gateway, http: aiohttp.ClientSession, method: str, body: dict[str, Any], field: str
) -> None:
    status, alice = await admin(http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "alice"})
    assert status == 201
    path = "/admin/v1/customers" + (f"/{alice['id']}" if method == "PATCH" else "")
    status, answer = await admin(http, gateway.url, method, path, json=body)
    assert status == 422, answer
    assert_error_shape(answer, "validation_failed")
    assert [d["field"] for d in answer["error"]["details"]] == [field]
    rows = await gateway.pool.fetch("SELECT reference, status, customer_type FROM customers")
    assert [tuple(r) for r in rows] == [("alice", "active", "individual")], "nothing changed"


async def test_null_clears_an_optional_customer_field(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, alice = await admin(
        http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "alice", "nationality": "KR"}
    )
    assert status == 201 and alice["nationality"] == "KR"
    status, changed = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/customers/{alice['id']}", json={"nationality": None}
    )
    assert status == 200 and changed["nationality"] is None and changed["status"] == "active"


RESIDENCE_CHANGES = [
    # (id, change to a US/NY resident, status, residence after: country, region)
    ("clear-the-state", {"residence_region": None}, 422, ("US", "NY")),
    ("another-state", {"residence_region": "CA"}, 200, ("US", "CA")),
    ("made-up-state", {"residence_region": "ZZ"}, 422, ("US", "NY")),
    ("made-up-nationality", {"nationality": "XX"}, 422, ("US", "NY")),
    ("same-country", {"residence_country": "US"}, 200, ("US", "NY")),
    ("move-clears-the-state", {"residence_country": "KR"}, 200, ("KR", None)),
    ("move-with-a-region", {"residence_country": "CA", "residence_region": "QC"}, 200, ("CA", "QC")),
    ("forget-the-country", {"residence_country": None}, 200, (None, None)),
    ("region-without-country", {"residence_country": None, "residence_region": "NY"}, 422, ("US", "NY")),
]


@pytest.mark.parametrize(
    ("change", "status", "after"), [c[1:] for c in RESIDENCE_CHANGES], ids=[c[0] for c in RESIDENCE_CHANGES]
)
async def test_a_change_of_residence_is_checked_with_the_stored_customer(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    change: dict[str, Any],
    status: int,
    after: tuple[str | None, str | None],
) -> None:
    where = {"residence_country": "US", "residence_region": "NY"}
    code, ny = await admin(
        http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "ny", **where}
    )
    assert code == 201, ny
    code, answer = await admin(http, gateway.url, "PATCH", f"/admin/v1/customers/{ny['id']}", json=change)
    assert code == status, answer
    if status == 422:
        assert_error_shape(answer, "validation_failed")
        refused = "nationality" if "nationality" in change else "residence_region"
        assert [d["field"] for d in answer["error"]["details"]] == [refused]
    row = await gateway.pool.fetchrow("SELECT residence_country, residence_region FROM customers")
    assert tuple(row) == after
    logged = await gateway.pool.fetch("SELECT details FROM audit_events WHERE kind = 'customer.changed'")
    assert len(logged) == (status == 200)


async def test_residence_rules_on_create_and_on_a_move_to_the_us(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    for body, field in (
        ({"residence_country": "US"}, "residence_region"),
        ({"residence_region": "NY"}, "residence_region"),
        ({"residence_country": "US", "residence_region": "ZZ"}, "residence_region"),
        ({"residence_country": "XX"}, "residence_country"),
        ({"nationality": "XX"}, "nationality"),
    ):
        status, answer = await admin(
            http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "a", **body}
        )
        assert status == 422, answer
        assert [d["field"] for d in answer["error"]["details"]] == [field]
    status, kr = await admin(
        http, gateway.url, "POST", "/admin/v1/customers", json={"reference": "kr", "residence_country": "KR"}
    )
    assert status == 201
    path = f"/admin/v1/customers/{kr['id']}"
    status, answer = await admin(http, gateway.url, "PATCH", path, json={"residence_country": "US"})
    assert status == 422 and answer["error"]["details"][0]["field"] == "residence_region"
    # A row stored without its state before this check existed still takes a suspension.
    await gateway.pool.execute("UPDATE customers SET residence_country = 'US'")
    status, answer = await admin(http, gateway.url, "PATCH", path, json={"status": "suspended"})
    assert status == 200 and answer["status"] == "suspended"


UNKNOWN_PARAMS = [
    ("list-by-status", "GET", "/admin/v1/customers?status=closed", None, "status"),
    ("list-limit-twice", "GET", "/admin/v1/customers?limit=1&limit=2", None, "limit"),
    ("one", "GET", "/admin/v1/customers/{customer}?fields=all", None, "fields"),
    ("create", "POST", "/admin/v1/customers?dry_run=1", {"reference": "bob"}, "dry_run"),
    ("change", "PATCH", "/admin/v1/customers/{customer}?dry_run=1", {"status": "closed"}, "dry_run"),
    ("keys", "GET", "/admin/v1/customers/{customer}/api-keys?status=active", None, "status"),
    ("issue-key", "POST", "/admin/v1/customers/{customer}/api-keys?dry_run=1", {"label": "x"}, "dry_run"),
    ("revoke-key", "DELETE", "/admin/v1/api-keys/{key}?dry_run=1", None, "dry_run"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [c[1:] for c in UNKNOWN_PARAMS], ids=[c[0] for c in UNKNOWN_PARAMS]
)
async def test_customer_endpoints_refuse_unknown_parameters(
    gateway: Gateway, http: aiohttp.ClientSession, method: str, path: str, body: Any, field: str
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    key = await gateway.pool.fetchval("SELECT id::text FROM api_keys")
    token = OPERATOR_TOKEN if method != "GET" else AUDITOR_TOKEN
    path = path.format(customer=alice.id, key=key)
    before = await gateway.pool.fetch("SELECT c.status, k.status FROM customers c JOIN api_keys k ON true")
    status, answer = await admin(http, gateway.url, method, path, token=token, json=body)
    assert status == 422, answer
    assert_error_shape(answer, "validation_failed")
    assert [d["field"] for d in answer["error"]["details"]] == [field]
    assert (
        await gateway.pool.fetch("SELECT c.status, k.status FROM customers c JOIN api_keys k ON true")
        == before
    )


async def test_suspension_takes_effect_at_once(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    erin = await new_customer(http, gateway.url, "erin")
    assert (await signed(http, gateway.url, "GET", "/api/v3/account", erin, {}))[0] == 200
    await admin(http, gateway.url, "PATCH", f"/admin/v1/customers/{erin.id}", json={"status": "suspended"})
    status, body, _ = await signed(http, gateway.url, "GET", "/api/v3/account", erin, {})
    assert (status, body["msg"].split(":")[0]) == (401, "customer_inactive")


async def test_decision_search_filters_and_pagination(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    frank = await new_customer(http, gateway.url, "frank")
    grace = await new_customer(http, gateway.url, "grace")
    for _ in range(5):
        await signed(http, gateway.url, "GET", "/api/v3/account", frank, {})
    await signed(
        http,
        gateway.url,
        "POST",
        "/api/v3/order",
        frank,
        {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
    )
    await signed(http, gateway.url, "GET", "/api/v3/account", grace, {})

    async def page(query: str) -> dict[str, Any]:
        status, body = await admin(
            http, gateway.url, "GET", "/admin/v1/decisions" + query, token=AUDITOR_TOKEN
        )
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    everything = await page("")
    assert len(everything["decisions"]) == 7 and everything["next_cursor"] is None
    times = [d["decided_at"] for d in everything["decisions"]]
    assert times == sorted(times, reverse=True), "newest first"

    seen: list[str] = []
    query = f"?customer_id={frank.id}&limit=2"
    while True:
        body = await page(query)
        seen += [d["id"] for d in body["decisions"]]
        if body["next_cursor"] is None:
            break
        query = f"?customer_id={frank.id}&limit=2&cursor={body['next_cursor']}"
    assert len(seen) == len(set(seen)) == 6

    denied = await page("?outcome=deny")
    assert [d["reasons"] for d in denied["decisions"]] == [["unknown_symbol"]]
    assert (await page("?reason=unknown_symbol"))["decisions"][0]["id"] == denied["decisions"][0]["id"]
    assert len((await page("?action_kind=order"))["decisions"]) == 1
    assert len((await page(f"?customer_id={grace.id}&action_kind=account_read"))["decisions"]) == 1
    assert (await page("?since=2999-01-01T00:00:00%2B00:00"))["decisions"] == []
    assert len((await page("?until=2999-01-01T00:00:00%2B00:00"))["decisions"]) == 7

    one = denied["decisions"][0]
    status, detail = await admin(
        http, gateway.url, "GET", f"/admin/v1/decisions/{one['id']}", token=AUDITOR_TOKEN
    )
    assert status == 200 and detail["findings"][0]["rule_id"] == "core.instrument.unknown_symbol"
    assert detail["upstream"] == [], "a denied call never reached the exchange"


def _cursor(at: str) -> str:
    """A cursor in the form the API issues, carrying `at` as its time."""
    raw = orjson.dumps({"s": "desc", "t": at, "i": "00000000-0000-0000-0000-000000000000"})
    return base64.urlsafe_b64encode(raw).decode()


BAD_QUERIES = [
    ("bad-outcome", "?outcome=maybe"),
    ("bad-kind", "?action_kind=teleport"),
    ("bad-customer", "?customer_id=42"),
    ("naive-time", "?since=2026-01-01T00:00:00"),
    ("bad-cursor", "?cursor=bm9wZQ"),
    ("cursor-out-of-range-in-utc", "?cursor=" + _cursor("0001-01-01T00:00:00+01:00")),
    ("cursor-without-offset", "?cursor=" + _cursor("2026-01-01T00:00:00")),
    ("bad-limit", "?limit=0"),
    ("non-ascii-digit-limit", "?limit=%C2%B2"),
    ("since-out-of-range-in-utc", "?since=0001-01-01T00:00:00%2B01:00"),
    ("until-out-of-range-in-utc", "?until=9999-12-31T23:59:59-01:00"),
    ("unknown-filter", "?colour=red"),
    ("duplicated-filter", "?outcome=deny&outcome=allow"),
]


@pytest.mark.parametrize("query", [c[1] for c in BAD_QUERIES], ids=[c[0] for c in BAD_QUERIES])
async def test_bad_decision_queries(gateway: Gateway, http: aiohttp.ClientSession, query: str) -> None:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/decisions" + query, token=AUDITOR_TOKEN)
    assert status == 422
    assert_error_shape(body, "validation_failed")


async def test_operator_cannot_read_decisions(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/decisions", token=OPERATOR_TOKEN)
    assert status == 403
    assert_error_shape(body, "forbidden")
