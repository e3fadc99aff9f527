"""Personal data is masked by role on every endpoint that returns it; a compliance officer
may unmask one customer for a stated reason, and that access is itself logged."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio

from gateway.audit.events import admin_actor
from tests.audit.support import ADDRESS, decision, record_all
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, Customer, admin, new_customer

pytestmark = pytest.mark.asyncio
WHY = "case 2026-114: suspected structuring"


@dataclass
class World:
    alice: Customer
    bob: Customer
    decision_id: str
    secrets: dict[str, list[str]]  # customer -> personal values that must not show in clear


@pytest_asyncio.fixture
async def world(gateway: Gateway, http: aiohttp.ClientSession) -> World:
    alice = await new_customer(http, gateway.url, "alice-reference")
    bob = await new_customer(http, gateway.url, "bob-reference")
    rows = [
        decision(alice.id, address=ADDRESS, client_order_id="alice-order-0001"),
        decision(
            bob.id, address="0xBobsAddress000000000000000000000000000001", client_order_id="bob-order-0002"
        ),
    ]
    await record_all(gateway, rows)
    secrets = {
        "alice": [alice.id, "alice-reference", ADDRESS, "alice-order-0001", rows[0].request_id],
        "bob": [bob.id, "bob-reference", "0xBobsAddress000000000000000000000000000001", "bob-order-0002", rows[1].request_id],
    }  # fmt: skip
    return World(alice, bob, str(rows[0].id), secrets)


ENDPOINTS = [
    ("decisions", "/admin/v1/decisions?sort=asc"),
    ("decision", "/admin/v1/decisions/{decision_id}"),
    ("export-csv", "/admin/v1/decisions/export?format=csv"),
    ("export-jsonl", "/admin/v1/decisions/export?format=jsonl"),
    ("customers", "/admin/v1/customers?limit=100"),
    ("customer", "/admin/v1/customers/{alice}"),
    ("api-keys", "/admin/v1/customers/{alice}/api-keys"),
    ("events", "/admin/v1/audit/events?limit=100"),
]


def _url(world: World, template: str) -> str:
    return template.format(decision_id=world.decision_id, alice=world.alice.id)


async def _get(http: aiohttp.ClientSession, gateway: Gateway, path: str, token: str) -> tuple[int, str]:
    async with http.get(gateway.url + path, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("role_token", [AUDITOR_TOKEN, OFFICER_TOKEN], ids=["auditor", "compliance_officer"])
@pytest.mark.parametrize("path", [e[1] for e in ENDPOINTS], ids=[e[0] for e in ENDPOINTS])
async def test_personal_data_is_masked(
    gateway: Gateway, http: aiohttp.ClientSession, world: World, path: str, role_token: str
) -> None:
    status, text = await _get(http, gateway, _url(world, path), role_token)
    assert status == 200, text
    for value in world.secrets["alice"] + world.secrets["bob"]:
        assert value not in text
    assert "…" in text, "masked, not dropped"


@pytest.mark.parametrize(
    "path", [e[1] for e in ENDPOINTS if e[0] != "events"], ids=[e[0] for e in ENDPOINTS if e[0] != "events"]
)
async def test_an_officer_unmasks_one_customer_and_the_access_is_logged(
    gateway: Gateway, http: aiohttp.ClientSession, world: World, path: str
) -> None:
    query = f"unmask={world.alice.id}&justification={WHY.replace(' ', '+')}"
    url = _url(world, path)
    status, text = await _get(http, gateway, url + ("&" if "?" in url else "?") + query, OFFICER_TOKEN)
    assert status == 200, text
    shown = [v for v in world.secrets["alice"] if v in text]
    assert shown, "alice's data is in clear"
    for value in world.secrets["bob"]:
        assert value not in text, "bob stays masked"

    status, events = await admin(
        http, gateway.url, "GET", "/admin/v1/audit/events?kind=personal_data.unmasked", token=OPERATOR_TOKEN
    )
    assert status == 403, "an operator cannot read the audit log"
    status, events = await admin(
        http, gateway.url, "GET", "/admin/v1/audit/events?kind=personal_data.unmasked", token=AUDITOR_TOKEN
    )
    (access,) = events["events"]
    assert access["actor"] == admin_actor("compliance_officer", OFFICER_TOKEN)
    assert access["reason"] == WHY and access["subject_type"] == "customer"
    assert access["subject_id"] != world.alice.id and "…" in access["subject_id"], "masked for the auditor"
    assert world.alice.id not in str(access["details"])


UNMASK_REFUSED = [
    ("auditor-may-not", AUDITOR_TOKEN, f"justification={WHY}", 403, "forbidden"),
    ("officer-needs-a-reason", OFFICER_TOKEN, "", 422, "validation_failed"),
    ("reason-too-short", OFFICER_TOKEN, "justification=why", 422, "validation_failed"),
]


@pytest.mark.parametrize(
    ("token", "extra", "status", "code"), [c[1:] for c in UNMASK_REFUSED], ids=[c[0] for c in UNMASK_REFUSED]
)
async def test_unmasking_is_refused_without_right_and_reason(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    world: World,
    token: str,
    extra: str,
    status: int,
    code: str,
) -> None:
    got, body = await admin(
        http, gateway.url, "GET", f"/admin/v1/decisions?unmask={world.alice.id}&{extra}", token=token
    )
    assert (got, body["error"]["code"]) == (status, code)
    _, events = await admin(
        http, gateway.url, "GET", "/admin/v1/audit/events?kind=personal_data.unmasked", token=AUDITOR_TOKEN
    )
    assert events["events"] == []


async def test_customer_pages_do_not_leak_references(
    gateway: Gateway, http: aiohttp.ClientSession, world: World
) -> None:
    references: list[str] = []
    query = "limit=1"
    while True:
        status, body = await admin(
            http, gateway.url, "GET", f"/admin/v1/customers?{query}", token=AUDITOR_TOKEN
        )
        assert status == 200, body
        references += [c["reference"] for c in body["customers"]]
        if body["next"] is None:
            break
        assert body["next"].startswith("sealed:") and "reference" not in body["next"]
        query = f"limit=1&after={body['next']}"
    assert references == ["a…", "b…"]
