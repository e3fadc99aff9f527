"""Deposits the exchange credited, reported to the gateway by an operator (or a poller of
the exchange's deposit history): judged by the same AML rules as withdrawals, under the
customer's lock, so deposits count in the rolling windows and a deposit from a
sanctioned address is refused (the funds are to be frozen) and reported.

POST /admin/v1/deposits  {customer_id, coin, amount, network?, from_address?, tx_id}

Reporting the same exchange transaction twice answers the first decision: the exchange
or a poller may retry, and a deposit must count once.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway import appkeys as K
from gateway import money_calls
from gateway.admin.errors import AdminError, json_response
from gateway.admin.queries import check_params
from gateway.admin.requests import read_json, require
from gateway.admin.tokens import Permission
from gateway.db import DatabaseUnavailable
from gateway.kyc_facts import kyc_facts
from gateway.markets import utcnow
from gateway.money_calls import AlreadyRecorded, CannotDecide, MoneyCall
from gateway.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind
from policy.decision import Verdict
from policy.facts import Authentication, AuthStatus, Facts

routes = web.RouteTableDef()
DIALECT = "admin"
OPERATION = "admin.deposit.report"


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    customer_id: uuid.UUID
    coin: str = Field(pattern=r"^[A-Z0-9]{1,12}$")
    amount: Decimal = Field(gt=0, max_digits=38)
    network: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,20}$")
    from_address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:._-]{10,128}$")
    tx_id: str = Field(pattern=r"^[A-Za-z0-9:._-]{1,128}$")


def _answer(row_id: uuid.UUID, verdict: Verdict | None, repeated: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"decision_id": str(row_id), "already_reported": repeated}
    if verdict is not None:
        body |= {
            "outcome": verdict.outcome.value,
            "reasons": verdict.reasons,
            "findings": [f.as_json() for f in verdict.findings],
        }
    return body


@routes.post("/admin/v1/deposits")
async def report_deposit(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_CUSTOMERS)
    check_params(request, frozenset())
    deposit = await read_json(request, DepositIn)
    app = request.app
    customer_id = str(deposit.customer_id)
    try:
        standing = await app[K.KEYS].standing(customer_id)
    except DatabaseUnavailable as exc:
        raise AdminError(503, "database_unavailable", "The database is unavailable; try again.") from exc
    if standing is None:
        raise AdminError(404, "not_found", "No customer with that id.")
    customer, record = standing
    started, now = time.perf_counter(), utcnow()
    settings = app[K.SETTINGS]
    action = Action(
        kind=ActionKind.DEPOSIT_CREDIT, operation=OPERATION, customer_id=customer_id,
        asset=deposit.coin, quantity=deposit.amount, address=deposit.from_address,
        network=deposit.network, client_order_id=None,
    )  # fmt: skip
    facts = Facts(
        now=now,
        # The operator's token authenticated the report; the customer signed nothing.
        authentication=Authentication(AuthStatus.OK, f"reported by {role}"),
        customer=customer,
        markets=app[K.MARKETS].current(now),
        kyc=kyc_facts(record, customer, settings.home_country, settings.rules_day(now), deposit.coin),
    )

    def make_row(verdict: Verdict, decided: Facts) -> DecisionRow:
        decision_id = new_decision_id()
        return DecisionRow(
            id=decision_id, decided_at=now, request_id=decision_id.hex, customer_id=customer_id,
            api_key_id=None, dialect=DIALECT, http_method=request.method, path=request.path,
            action=action, verdict=verdict, decision_micros=int((time.perf_counter() - started) * 1e6),
            country=customer.jurisdiction, facts=decided, personal_box=app[K.FACTS_BOX],
        )  # fmt: skip

    # A repeated tx_id is found under the customer's lock (AlreadyRecorded), so two
    # reports racing each other still count once.
    call = MoneyCall(action, make_row, "", b"", None, external_id=deposit.tx_id)
    try:
        row = await money_calls.decide(app, call, facts)
    except AlreadyRecorded as seen:
        return json_response(_answer(seen.decision_id, None, True))
    except CannotDecide as exc:
        raise AdminError(503, exc.reason, exc.message) from exc
    return json_response(_answer(row.id, row.verdict, False), status=201)
