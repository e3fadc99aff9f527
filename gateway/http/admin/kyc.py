"""Admin: a customer's KYC record — identity, verification, real-name bank accounts.

`operator` submits identities and bank accounts, `compliance_officer` verifies or rejects,
`auditor` reads. Personal data comes back masked; a compliance officer may unmask one
customer with a stated reason, and that access is logged first (gateway/http/admin/disclosure).
Every change is appended to the audit log in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from gateway import appkeys as K
from gateway import kyc_service as service
from gateway.audit.events import EventKind
from gateway.http.admin.disclosure import UNMASK_PARAMS, actor_of, viewer_for
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import path_uuid, read_json, read_json_body, require, validation_error
from gateway.roles import Permission
from gateway.sealing import derive_key, keyed_hash
from gateway.store import customers as customer_store
from gateway.store import kyc as store
from kyc import verification as states
from kyc.identity import masked, parse_identity
from kyc.names import match_holder_name

routes = web.RouteTableDef()


class VerificationChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["verify", "reject", "expire"]
    level: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    valid_until: date | None = None
    note: str | None = Field(default=None, max_length=1000)


class NewBankAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    bank_code: str = Field(pattern=r"^[A-Za-z0-9_-]{2,20}$")
    account_number: SecretStr = Field(min_length=6, max_length=34)
    holder_name: SecretStr = Field(min_length=1, max_length=200)
    # Whether the bank confirmed the account is in the customer's name (its real-name check).
    holder_confirmed: bool


def _today() -> date:
    return datetime.now(UTC).date()


async def _customer_exists(conn: Any, customer_id: uuid.UUID) -> None:
    try:
        await customer_store.get_customer(conn, customer_id)
    except customer_store.NotFound as exc:
        raise AdminError(404, "not_found", "No customer with that id.") from exc


@routes.put("/admin/v1/customers/{customer_id}/identity")
async def put_identity(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_CUSTOMERS)
    check_params(request, frozenset())
    customer_id = path_uuid(request, "customer_id")
    raw = await read_json_body(request)
    try:
        identity = parse_identity(raw, today=_today())
    except ValidationError as exc:
        raise validation_error(exc) from exc
    actor, now = actor_of(request, role), datetime.now(UTC)
    secret_key = request.app[K.SETTINGS].secret_key.get_secret_value()
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        await _customer_exists(conn, customer_id)
        try:
            version = await service.submit_identity(
                conn, request.app[K.SECRET_BOX], secret_key, customer_id, identity, by=actor, at=now
            )
        except customer_store.Conflict as exc:
            raise AdminError(
                409,
                "conflict",
                "This identity is already registered to another customer.",
                [{"field": "national_id.number", "problem": "duplicate identity"}],
            ) from exc
        except store.StaleVerification as exc:  # not expected: the row is locked before it is read
            raise AdminError(
                409,
                "conflict",
                "The verification changed while this identity was submitted: submit it again.",
                [{"field": "verification", "problem": "changed_concurrently"}],
            ) from exc
        await log.append(
            EventKind.KYC_CHANGED,
            actor,
            subject_type="customer",
            subject_id=str(customer_id),
            details={"change": "identity", "version": version, "verification": "pending"},
        )
    request.app[K.KEYS].forget()
    return json_response({"version": version, "verification": "pending", "identity": masked(identity)})


@routes.get("/admin/v1/customers/{customer_id}/identity")
async def get_identity(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_CUSTOMERS)
    check_params(request, UNMASK_PARAMS)
    customer_id = path_uuid(request, "customer_id")
    viewer = await viewer_for(request, role)
    async with request.app[K.POOL].acquire() as conn:
        shown = await service.identity_view(
            conn, request.app[K.SECRET_BOX], customer_id, viewer, today=_today()
        )
    if shown is None:
        raise AdminError(404, "not_found", "No identity on record for that customer.")
    return json_response(shown)


@routes.post("/admin/v1/customers/{customer_id}/verification")
async def change_verification(request: web.Request) -> web.Response:
    role = require(request, Permission.VERIFY_KYC)
    check_params(request, frozenset())
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, VerificationChange)
    asked = service.VerificationDecision(body.decision, body.level, body.valid_until, body.note)
    app, now = request.app, datetime.now(UTC)
    settings = app[K.SETTINGS]
    levels = service.verification_levels(app[K.RULES].book, settings.home_country, settings.rules_day(now))
    try:
        changed = await service.record_verification(
            app[K.POOL], app[K.AUDIT_EVENTS], app[K.KEYS], customer_id, asked,
            actor=actor_of(request, role), now=now, levels=levels, home=settings.home_country,
        )  # fmt: skip
    except service.VerificationRefused as exc:
        details = [{"field": exc.field, "problem": exc.problem}] if exc.field else None
        if exc.conflict:
            raise AdminError(409, "conflict", exc.message, details) from exc
        raise AdminError(422, "validation_failed", exc.message, details) from exc
    return json_response(_verification_json(changed))


def _verification_json(v: states.Verification) -> dict[str, Any]:
    return {
        "status": v.status.value,
        "level": v.level,
        "verified_by": v.verified_by,
        "verified_at": v.verified_at,
        "valid_until": v.valid_until,
        "note": v.note,
    }


@routes.get("/admin/v1/customers/{customer_id}/verification")
async def get_verification(request: web.Request) -> web.Response:
    require(request, Permission.READ_CUSTOMERS)
    check_params(request, frozenset())  # nothing here is masked, so nothing to unmask
    customer_id = path_uuid(request, "customer_id")
    async with request.app[K.POOL].acquire() as conn:
        current = await store.load_verification(conn, customer_id)
        if current is None:
            raise AdminError(404, "not_found", "No verification on record for that customer.")
        history = await store.verification_history(conn, customer_id)
    return json_response({**_verification_json(current.verification), "history": history})


@routes.post("/admin/v1/customers/{customer_id}/bank-accounts")
async def add_bank_account(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_CUSTOMERS)
    check_params(request, frozenset())
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, NewBankAccount)
    settings = request.app[K.SETTINGS]
    actor, now = actor_of(request, role), datetime.now(UTC)
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        stored = await store.load_identity(conn, request.app[K.SECRET_BOX], customer_id)
        if stored is None:
            raise AdminError(409, "conflict", "Submit the customer's identity before a bank account.")
        holder = body.holder_name.get_secret_value()
        match = match_holder_name(holder, stored.personal["legal_name"], stored.personal.get("native_name"))
        if not match.matches:
            # The real-name system: only an account in the customer's own name.
            raise AdminError(
                422,
                "validation_failed",
                "The account holder is not the customer.",
                [{"field": "holder_name", "problem": match.reason.value}],
            )
        number = body.account_number.get_secret_value()
        key = derive_key(settings.secret_key.get_secret_value(), service.ACCOUNT_HASH_PURPOSE)
        fields = {
            "currency": body.currency,
            "bank_code": body.bank_code,
            "account_number": number,
            "holder_name": holder,
            "holder_confirmed": body.holder_confirmed,
            "holder_name_matches": True,
            "partner_bank": body.bank_code in settings.partner_banks,
            "number_hash": service.account_number_hash(settings.secret_key.get_secret_value(), number),
        }
        try:
            account = await store.add_bank_account(
                conn,
                request.app[K.SECRET_BOX],
                customer_id,
                fields,
                keyed_hash(key, f"{body.bank_code}:{number}"),
                by=actor,
                at=now,
            )
        except customer_store.Conflict as exc:
            raise AdminError(409, "conflict", str(exc)) from exc
        await log.append(
            EventKind.KYC_CHANGED,
            actor,
            subject_type="customer",
            subject_id=str(customer_id),
            details={
                "change": "bank_account",
                "currency": body.currency,
                "bank_code": body.bank_code,
                "partner_bank": fields["partner_bank"],
            },
        )
    request.app[K.KEYS].forget()
    return json_response(account, status=201)


@routes.get("/admin/v1/customers/{customer_id}/bank-accounts")
async def list_bank_accounts(request: web.Request) -> web.Response:
    require(request, Permission.READ_CUSTOMERS)
    check_params(request, frozenset())  # no numbers or names: nothing to unmask
    customer_id = path_uuid(request, "customer_id")
    async with request.app[K.POOL].acquire() as conn:
        return json_response({"bank_accounts": await store.bank_accounts(conn, customer_id)})
