"""The admin API's OpenAPI document: valid OpenAPI 3.1, one operation per admin route of
the app's router and no other, the roles it names are the roles let in, the query
parameters it names are the ones the handlers take, and real answers from a running
gateway on a real Postgres match the schema declared for their status."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway import appkeys as K
from gateway.http.admin.openapi import OPERATIONS, admin_routes
from gateway.review.store import ReportCandidate, open_report
from gateway.sanctions.service import packaged_snapshot
from tests.conftest import Gateway, gateway_cli
from tests.review.support import make_hold
from tests.sanctions.conftest import UNLISTED_EVM, packaged_without_tornado
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    OPERATOR_TOKEN,
    admin,
    identity_body,
    new_customer,
    signed,
)

pytestmark = pytest.mark.asyncio
DOC = "/admin/v1/openapi.json"
TOKENS = {"auditor": AUDITOR_TOKEN, "compliance_officer": OFFICER_TOKEN, "operator": OPERATOR_TOKEN}
JUSTIFICATION = "Examining this customer's file."


async def _document(http: aiohttp.ClientSession, gateway: Gateway) -> dict[str, Any]:
    async with http.get(gateway.url + DOC, headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"}) as response:
        assert response.status == 200 and response.content_type == "application/json"
        doc: dict[str, Any] = orjson.loads(await response.read())
    return doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


class Answers:
    """Checks each answer against the document, and remembers which were checked."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.checked: set[tuple[str, str, int]] = set()

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        # The document's components ride along, so "#/components/schemas/X" resolves.
        root = {**schema, "components": self.doc["components"]}
        return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def response(self, method: str, template: str, status: int) -> dict[str, Any]:
        responses = self.doc["paths"][template][method.lower()]["responses"]
        declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        assert declared is not None, f"{method} {template} answered {status}, which it does not declare"
        if "$ref" in declared:
            declared = self.doc["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
        found: dict[str, Any] = declared
        return found

    def check(self, method: str, template: str, status: int, body: Any) -> None:
        schema = self.response(method, template, status)["content"]["application/json"]["schema"]
        errors = sorted(self.validator(schema).iter_errors(body), key=str)
        assert not errors, f"{method} {template} {status}: {errors[0].message} at {list(errors[0].path)}"
        self.checked.add((method, template, status))

    async def call(
        self, http: aiohttp.ClientSession, gateway: Gateway, method: str, template: str, *,
        path: str | None = None, token: str = OPERATOR_TOKEN, json: Any = None, expect: int | None = None,
    ) -> Any:  # fmt: skip
        status, body = await admin(http, gateway.url, method, path or template, token=token, json=json)
        if expect is not None:
            assert status == expect, (method, path or template, status, body)
        self.check(method, template, status, body)
        return body


async def test_the_document_is_valid_openapi_3_1(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    doc = await _document(http, gateway)
    validate(doc)  # openapi-spec-validator picks the 3.1 validator from "openapi"
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    for method, path, op in _operations(doc):
        # Every operation: the bearer scheme (document-wide), the shared error shape for
        # 4xx and 5xx, and the roles it admits.
        assert op["responses"]["4XX"] == op["responses"]["5XX"] == {"$ref": "#/components/responses/Error"}
        assert op["x-roles"], (method, path)
    assert doc["security"] == [{"bearer": []}]

    answers = Answers(doc)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        async with http.get(gateway.url + DOC, headers=headers) as response:
            assert response.status == 401
            answers.check("GET", DOC, 401, await response.json())


async def test_every_admin_route_is_described_and_nothing_else(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    routed = set(admin_routes(gateway.app))
    assert routed - set(OPERATIONS) == set(), "routes without an OpenAPI declaration"
    assert set(OPERATIONS) - routed == set(), "declarations for no route"
    doc = await _document(http, gateway)
    assert {(m, p) for m, p, _ in _operations(doc)} == routed


def _path_for(gateway: Gateway, template: str) -> str:
    """A path that names nothing stored (a fresh UUID), or the active rule-pack version:
    enough to see who is let in and which parameters are taken."""
    version = gateway.app[K.RULES].book.version
    path = template.replace("{version}", version).replace("{other}", version)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


async def test_the_roles_named_are_the_roles_let_in(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    doc = await _document(http, gateway)
    answers = Answers(doc)
    for method, template, op in _operations(doc):
        path = _path_for(gateway, template)
        for role, token in TOKENS.items():
            status, body = await admin(http, gateway.url, method, path, token=token)
            answers.check(method, template, status, body)
            if role in op["x-roles"]:
                assert status != 403, (method, template, role, body)
            else:
                assert (status, body["error"]["code"]) == (403, "forbidden"), (method, template, role, body)


async def test_the_query_parameters_named_are_the_ones_taken(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """Each parameter an operation declares is taken (not refused as unknown), and each
    parameter the document names anywhere else is refused by it as unknown."""
    doc = await _document(http, gateway)
    every = {
        p["name"] for _, _, op in _operations(doc) for p in op.get("parameters", ()) if p["in"] == "query"
    }
    for method, template, op in _operations(doc):
        token = TOKENS[op["x-roles"][0]]
        path = _path_for(gateway, template)
        declared = {p["name"] for p in op.get("parameters", ()) if p["in"] == "query"}
        for name in sorted(every):
            status, body = await admin(http, gateway.url, method, f"{path}?{name}=x", token=token)
            unknown = status == 422 and {"field": name, "problem": "unknown parameter"} in (
                body["error"].get("details") or []
            )
            assert unknown == (name not in declared), (method, template, name, status, body)


async def test_real_answers_match_their_schemas(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = await _document(http, gateway)
    a = Answers(doc)
    await a.call(http, gateway, "GET", DOC, token=OPERATOR_TOKEN, expect=200)
    await a.call(http, gateway, "GET", DOC, path=DOC + "?pretty=1", token=OPERATOR_TOKEN, expect=422)
    await _customers_and_kyc(a, http, gateway)
    alice = await new_customer(http, gateway.url, "alice-openapi")
    await _decisions_and_exports(a, http, gateway, alice)
    await _holds_and_reports(a, http, gateway, alice)
    await _rule_packs(a, http, gateway)
    await _sanctions(a, http, gateway)
    await _audit(a, http, gateway, capsys, monkeypatch)

    # Every operation answered at least once with success, and every family with an error.
    succeeded = {(m, p) for m, p, s in a.checked if s < 400}
    assert {(m, p) for m, p, _ in _operations(doc)} - succeeded == set()
    tags = {op["tags"][0] for _, _, op in _operations(doc)}
    failed = {doc["paths"][p][m.lower()]["tags"][0] for m, p, s in a.checked if s >= 400}
    assert tags - failed == set()


async def _customers_and_kyc(a: Answers, http: aiohttp.ClientSession, gateway: Gateway) -> None:
    customers, one = "/admin/v1/customers", "/admin/v1/customers/{customer_id}"
    created = await a.call(http, gateway, "POST", customers, json={"reference": "bob-openapi"}, expect=201)
    await a.call(http, gateway, "POST", customers, json={"reference": "bob-openapi"}, expect=409)
    at = one.replace("{customer_id}", created["id"])
    for token in TOKENS.values():
        await a.call(http, gateway, "GET", customers, path=customers + "?limit=1", token=token, expect=200)
        await a.call(http, gateway, "GET", one, path=at, token=token, expect=200)
    await a.call(http, gateway, "PATCH", one, path=at, json={"residence_country": "KR"}, expect=200)
    await a.call(http, gateway, "PATCH", one, path=at, json={"status": None}, expect=422)
    keys = one + "/api-keys"
    key = await a.call(http, gateway, "POST", keys, path=at + "/api-keys", json={"label": "x"}, expect=201)
    await a.call(http, gateway, "GET", keys, path=at + "/api-keys", token=AUDITOR_TOKEN, expect=200)
    revoke = "/admin/v1/api-keys/{key_id}"
    await a.call(http, gateway, "DELETE", revoke, path=revoke.replace("{key_id}", key["id"]), expect=200)

    identity = one + "/identity"
    await a.call(http, gateway, "GET", identity, path=at + "/identity", expect=404)
    await a.call(http, gateway, "PUT", identity, path=at + "/identity", json=identity_body(), expect=200)
    await a.call(http, gateway, "GET", identity, path=at + "/identity", token=AUDITOR_TOKEN, expect=200)
    unmasked = f"{at}/identity?unmask={created['id']}&justification={JUSTIFICATION}"
    clear = await a.call(http, gateway, "GET", identity, path=unmasked, token=OFFICER_TOKEN, expect=200)
    assert clear["masked"] is False
    verification = one + "/verification"
    verify = {"decision": "verify", "level": "full"}
    await a.call(http, gateway, "POST", verification, path=at + "/verification", token=OFFICER_TOKEN,
                 json=verify, expect=200)  # fmt: skip
    await a.call(http, gateway, "POST", verification, path=at + "/verification", token=OFFICER_TOKEN,
                 json={"decision": "reject"}, expect=422)  # fmt: skip
    await a.call(http, gateway, "GET", verification, path=at + "/verification", expect=200)
    accounts = one + "/bank-accounts"
    account = {"currency": "KRW", "bank_code": "088", "account_number": "110123456789",
               "holder_name": "김민준", "holder_confirmed": True}  # fmt: skip
    await a.call(http, gateway, "POST", accounts, path=at + "/bank-accounts", json=account, expect=201)
    await a.call(http, gateway, "POST", accounts, path=at + "/bank-accounts", json=account, expect=409)
    await a.call(http, gateway, "GET", accounts, path=at + "/bank-accounts", token=AUDITOR_TOKEN, expect=200)

    deposits = "/admin/v1/deposits"
    deposit = {"customer_id": created["id"], "coin": "BTC", "amount": "0.01", "tx_id": "tx-openapi-1"}
    first = await a.call(http, gateway, "POST", deposits, json=deposit, expect=201)
    # The same tx_id again answers the first decision (200), when the first was recorded
    # as a movement; both statuses have the same schema.
    again = await a.call(http, gateway, "POST", deposits, json=deposit)
    assert again["already_reported"] or first["outcome"] == "deny", (first, again)
    await a.call(
        http, gateway, "POST", deposits, json={**deposit, "customer_id": str(uuid.uuid4())}, expect=404
    )


_UPSTREAM_ATTEMPTS = 50  # a bound on polling, not a speed expectation


async def _decisions_and_exports(
    a: Answers, http: aiohttp.ClientSession, gateway: Gateway, alice: Any
) -> None:
    status, _, headers = await signed(http, gateway.url, "GET", "/api/v3/account", alice, {})
    assert status == 200
    decision_id = headers.get("X-Decision-Id")
    search = "/admin/v1/decisions"
    for token in (AUDITOR_TOKEN, OFFICER_TOKEN):
        page = await a.call(http, gateway, "GET", search, path=search + "?limit=2", token=token, expect=200)
    await a.call(
        http, gateway, "GET", search, path=search + "?outcome=maybe", token=OFFICER_TOKEN, expect=422
    )
    decision_id = decision_id or page["decisions"][0]["id"]
    one = "/admin/v1/decisions/{decision_id}"
    for _ in range(_UPSTREAM_ATTEMPTS):  # the exchange's answer rides with a later batch
        shown = await a.call(http, gateway, "GET", one, path=one.replace("{decision_id}", decision_id),
                             token=AUDITOR_TOKEN, expect=200)  # fmt: skip
        if shown["upstream"]:
            break
        await asyncio.sleep(0.1)
    assert shown["upstream"], "a forwarded call keeps what the exchange answered"
    await a.call(http, gateway, "GET", one, path=one.replace("{decision_id}", str(uuid.uuid4())),
                 token=AUDITOR_TOKEN, expect=404)  # fmt: skip
    await _export(a, http, gateway, "/admin/v1/decisions/export", "DecisionRow")


async def _export(a: Answers, http: aiohttp.ClientSession, gateway: Gateway, template: str, row: str) -> None:
    """CSV: the header is the row schema's fields, in order; JSON Lines: each line is a row."""
    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    content = a.response("GET", template, 200)["content"]
    row_schema = a.doc["components"]["schemas"][row]
    async with http.get(gateway.url + template + "?format=csv", headers=headers) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        lines = list(csv.reader(io.StringIO(await response.text())))
    assert lines[0] == list(row_schema["properties"]) and len(lines) > 1
    assert content["text/csv"]["x-row-schema"] == {"$ref": f"#/components/schemas/{row}"}
    async with http.get(gateway.url + template + "?format=jsonl", headers=headers) as response:
        assert response.status == 200 and response.content_type == "application/x-ndjson"
        rows = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert rows
    validator = a.validator(content["application/x-ndjson"]["x-row-schema"])
    for value in rows:
        errors = list(validator.iter_errors(value))
        assert not errors, f"{template}: {errors[0].message} at {list(errors[0].path)}"
    a.checked.add(("GET", template, 200))
    await a.call(
        http, gateway, "GET", template, path=template + "?format=xml", token=AUDITOR_TOKEN, expect=422
    )


async def _holds_and_reports(a: Answers, http: aiohttp.ClientSession, gateway: Gateway, alice: Any) -> None:
    approved, rejected = await make_hold(gateway, alice), await make_hold(gateway, alice)
    holds, one = "/admin/v1/holds", "/admin/v1/holds/{hold_id}"
    for token in (AUDITOR_TOKEN, OFFICER_TOKEN):
        await a.call(http, gateway, "GET", holds, token=token, expect=200)
        await a.call(http, gateway, "GET", one, path=f"{holds}/{approved}", token=token, expect=200)
    note = {"note": "Source of funds documented."}
    approve, reject = one + "/approve", one + "/reject"
    await a.call(http, gateway, "POST", approve, path=f"{holds}/{approved}/approve", token=OFFICER_TOKEN,
                 json=note)  # fmt: skip
    await a.call(http, gateway, "POST", reject, path=f"{holds}/{rejected}/reject", token=OFFICER_TOKEN,
                 json=note, expect=200)  # fmt: skip
    await a.call(http, gateway, "POST", reject, path=f"{holds}/{rejected}/reject", token=OFFICER_TOKEN,
                 json=note, expect=409)  # fmt: skip

    candidate = ReportCandidate(
        kind="CTR", customer_id=uuid.UUID(alice.id), decision_ids=(approved,), rule_ids=("kr.aml.cash_report",),
        amount=None, currency="KRW", details={"threshold": "10000000"},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        report_id = await open_report(conn, candidate)
    reports, report = "/admin/v1/reports", "/admin/v1/reports/{report_id}"
    at = f"{reports}/{report_id}"
    for token in (AUDITOR_TOKEN, OFFICER_TOKEN):
        await a.call(http, gateway, "GET", reports, token=token, expect=200)
        await a.call(http, gateway, "GET", report, path=at, token=token, expect=200)
    change = {"status": "filed", "note": "Filed with KoFIU."}
    await a.call(http, gateway, "PATCH", report, path=at, token=OFFICER_TOKEN, json=change, expect=200)
    await a.call(http, gateway, "PATCH", report, path=at, token=OFFICER_TOKEN, json=change, expect=409)
    await _export(a, http, gateway, "/admin/v1/reports/export", "ReportRow")


async def _rule_packs(a: Answers, http: aiohttp.ClientSession, gateway: Gateway) -> None:
    packs = await a.call(http, gateway, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN, expect=200)
    version = packs["active"]
    show, diff = "/admin/v1/rule-packs/{version}", "/admin/v1/rule-packs/{version}/diff/{other}"
    await a.call(http, gateway, "GET", show, path=f"/admin/v1/rule-packs/{version}", expect=200)
    await a.call(http, gateway, "GET", show, path="/admin/v1/rule-packs/sha256:" + "0" * 16, expect=404)
    await a.call(
        http, gateway, "GET", diff, path=f"/admin/v1/rule-packs/{version}/diff/{version}", expect=200
    )
    await a.call(http, gateway, "POST", "/admin/v1/rule-packs/reload", expect=200)
    replay = "/admin/v1/rule-packs/{version}/replay"
    now = datetime.now(UTC)
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }
    await a.call(http, gateway, "POST", replay, path=f"/admin/v1/rule-packs/{version}/replay",
                 token=AUDITOR_TOKEN, json=window, expect=200)  # fmt: skip


async def _sanctions(a: Answers, http: aiohttp.ClientSession, gateway: Gateway) -> None:
    snapshots, check = "/admin/v1/sanctions/snapshots", "/admin/v1/sanctions/check"
    await a.call(http, gateway, "GET", snapshots, token=AUDITOR_TOKEN, expect=200)
    body = packaged_without_tornado()
    await a.call(http, gateway, "POST", snapshots, token=OFFICER_TOKEN, json=body, expect=201)
    await a.call(http, gateway, "POST", snapshots, token=OFFICER_TOKEN, json=body, expect=200)
    await a.call(
        http, gateway, "POST", snapshots, token=OFFICER_TOKEN, json={**body, "addresses": []}, expect=422
    )
    retro = "/admin/v1/sanctions/retro-scans"  # each switch gets a retro-screening scan
    scans = await a.call(http, gateway, "GET", retro, token=AUDITOR_TOKEN, expect=200)
    await a.call(http, gateway, "GET", retro + "/{scan_id}", path=f"{retro}/{scans['scans'][0]['id']}",
                 token=AUDITOR_TOKEN, expect=200)  # fmt: skip
    await a.call(http, gateway, "GET", retro + "/{scan_id}", path=f"{retro}/{uuid.uuid4()}",
                 token=OPERATOR_TOKEN, expect=404)  # fmt: skip
    rejected = "/admin/v1/sanctions/snapshots/{snapshot}/rejected"
    packaged_id = packaged_snapshot().id  # loaded with its one declared rejection
    await a.call(http, gateway, "GET", rejected, path=f"/admin/v1/sanctions/snapshots/{packaged_id}/rejected",
                 token=AUDITOR_TOKEN, expect=200)  # fmt: skip
    await a.call(http, gateway, "GET", rejected, path="/admin/v1/sanctions/snapshots/sha256:00/rejected",
                 token=AUDITOR_TOKEN, expect=404)  # fmt: skip
    listed = body["addresses"][0]
    await a.call(http, gateway, "GET", check, path=f"{check}?address={listed['address']}",
                 token=OFFICER_TOKEN, expect=200)  # fmt: skip
    await a.call(
        http, gateway, "GET", check, path=f"{check}?address={UNLISTED_EVM}", token=OFFICER_TOKEN, expect=200
    )
    await a.call(http, gateway, "GET", check, path=f"{check}?address=0xnope&network=ETH", token=OFFICER_TOKEN,
                 expect=422)  # fmt: skip


async def _audit(
    a: Answers,
    http: aiohttp.ClientSession,
    gateway: Gateway,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, checkpoint = await gateway_cli(gateway, capsys, monkeypatch, "audit")("checkpoint")
    assert code == 0
    verify = "/admin/v1/audit/verify"
    await a.call(http, gateway, "GET", verify, token=AUDITOR_TOKEN, expect=200)
    listed = await a.call(
        http, gateway, "GET", "/admin/v1/audit/checkpoints", token=AUDITOR_TOKEN, expect=200
    )
    checkpoint_id = checkpoint.get("id") or listed["checkpoints"][0]["id"]
    await a.call(http, gateway, "GET", verify, path=f"{verify}?checkpoint_id={checkpoint_id}",
                 token=AUDITOR_TOKEN, expect=200)  # fmt: skip
    await a.call(
        http, gateway, "GET", verify, path=f"{verify}?since=yesterday", token=AUDITOR_TOKEN, expect=422
    )
    events = "/admin/v1/audit/events"
    await a.call(http, gateway, "GET", events, path=events + "?limit=50", token=AUDITOR_TOKEN, expect=200)
    await a.call(http, gateway, "GET", events, path=events + "?limit=50", token=OFFICER_TOKEN, expect=200)
