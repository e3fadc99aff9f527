"""Deposits the exchange credited, reported to the gateway by an operator (or a poller of
the exchange's deposit history): judged by the same AML rules as withdrawals, under the
customer's lock, so deposits count in the rolling windows, a deposit from a sanctioned
address is refused (the funds are to be frozen) and reported, and the receiving
exchange's travel-rule and self-hosted duties apply (the customer is the beneficiary).

POST /admin/v1/deposits  {customer_id, coin, amount, network?, from_address?, tx_id,
                          output_index?, travel_rule?, wallet_type?, ownership_proof?}

A deposit is identified by itself: (network, tx_id, output_index). Reporting it again
answers the first decision whatever it was (a poller retries, two replicas poll); a
report of it that says something else is a 409 naming the fields, never a new decision.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aml.ivms101 import bounds_problem
from gateway import appkeys as K
from gateway.decide.money_calls import AlreadyRecorded, DepositConflict
from gateway.decide.service import Call
from gateway.feeds.markets import utcnow
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import read_json, require
from gateway.roles import Permission
from gateway.sealing import derive_key, keyed_hash
from gateway.store.db import DatabaseUnavailable
from gateway.store.deposits import DepositReport
from policy.action import Action, ActionKind
from policy.decision import Verdict
from policy.facts import Authentication, AuthStatus

routes = web.RouteTableDef()
DIALECT = "admin"
OPERATION = "admin.deposit.report"
# The keyed hash a repeat's sending address is compared by (gateway/store/deposits.py).
ADDRESS_HASH_PURPOSE = "deposit-address"


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    customer_id: uuid.UUID
    coin: str = Field(pattern=r"^[A-Z0-9]{1,12}$")
    amount: Decimal = Field(gt=0, max_digits=38)
    network: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,20}$")
    from_address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:._-]{10,128}$")
    tx_id: str = Field(pattern=r"^[A-Za-z0-9:._-]{1,128}$")
    # Which output of the transaction, where a chain has several (Bitcoin's vout).
    output_index: int = Field(default=0, ge=0, le=2_147_483_647)
    # The originator and beneficiary data that came with the deposit (IVMS101, as the
    # withdrawal's `questionnaire`); validated strictly when a travel rule binds.
    travel_rule: dict[str, Any] | None = None
    # The sending wallet. Unknown (absent): taken as another VASP's, which every travel
    # rule covers; only a declared self-hosted wallet is asked for an ownership proof.
    wallet_type: Literal["vasp", "self_hosted"] | None = None
    # For a self-hosted sending address: the customer's signature over
    # "Compliance gateway: customer <customer id> controls <from_address>" (aml/ownership.py).
    ownership_proof: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/=]{1,256}$")

    @field_validator("output_index", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        # The admin API reads bodies leniently; an index written as text or a bool is a
        # different report of the same deposit, so only a JSON integer is one.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("output_index must be a JSON integer")
        return value

    @field_validator("travel_rule")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The withdrawal questionnaire's bounds: what no parser should be handed.
        problem = bounds_problem(orjson.dumps(value)) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _proof_for_self_hosted(self) -> DepositIn:
        if self.ownership_proof is not None and (self.wallet_type != "self_hosted" or not self.from_address):
            raise ValueError("ownership_proof needs wallet_type self_hosted and the from_address it signs")
        return self

    def report(self, secret_key_b64: str) -> DepositReport:
        address_hash = None
        if self.from_address is not None:
            address_hash = keyed_hash(derive_key(secret_key_b64, ADDRESS_HASH_PURPOSE), self.from_address)
        return DepositReport(
            # No network named: the coin's own chain (BTC on BTC), as a poller should say.
            network=self.network or self.coin, tx_id=self.tx_id, output_index=self.output_index,
            coin=self.coin, amount=self.amount, from_address_hash=address_hash,
        )  # fmt: skip


def _answer(row_id: uuid.UUID, verdict: Verdict) -> dict[str, Any]:
    return {
        "decision_id": str(row_id),
        "already_reported": False,
        "outcome": verdict.outcome.value,
        "reasons": verdict.reasons,
        "findings": [f.as_json() for f in verdict.findings],
    }


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
    action = Action(
        kind=ActionKind.DEPOSIT_CREDIT, operation=OPERATION, customer_id=customer_id,
        asset=deposit.coin, quantity=deposit.amount, address=deposit.from_address,
        network=deposit.network, client_order_id=None,
        travel_rule=orjson.dumps(deposit.travel_rule).decode() if deposit.travel_rule is not None else None,
        self_hosted=deposit.wallet_type == "self_hosted", ownership_proof=deposit.ownership_proof,
    )  # fmt: skip
    # A repeat is found under the customer's lock, or by the deposit's key when another
    # customer's report of it raced this one: either way one decision.
    report = deposit.report(app[K.SETTINGS].secret_key.get_secret_value())
    call = Call(
        action=action,
        # The operator's token authenticated the report; the customer signed nothing.
        authentication=Authentication(AuthStatus.OK, f"reported by {role}"),
        customer=customer, kyc=record, api_key_id=None, dialect=DIALECT,
        http_method=request.method, path=request.path, now=now, started=started,
        deposit=report, needs_markets=False,
    )  # fmt: skip
    try:
        decided = await app[K.DECIDER].decide(call)
    except AlreadyRecorded as seen:
        first = seen.first
        return json_response({
            "decision_id": str(first.decision_id), "already_reported": True,
            "outcome": first.outcome, "reasons": list(first.reasons),
        })  # fmt: skip
    except DepositConflict as clash:
        raise AdminError(
            409, "conflict",
            f"This deposit ({report.network} {report.tx_id} output {report.output_index}) was "
            f"reported before with other content: {', '.join(clash.first.differences)}.",
            [{"field": name, "problem": "differs from the first report of this deposit"}
             for name in clash.first.differences],
        ) from clash  # fmt: skip
    if decided.decision_id is None or decided.verdict is None:
        raise AdminError(503, decided.reason, decided.message)
    return json_response(_answer(decided.decision_id, decided.verdict), status=201)
