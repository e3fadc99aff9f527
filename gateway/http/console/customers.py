"""Console: customers and their KYC record, masked by role as the admin API masks them.

Reads call the admin API's store functions and services (gateway/store/customers.py,
gateway/kyc_service.py); unmasking goes through gateway/audit/disclosure.py, which logs
the access before any data is read, and the unmasked page is answered to that POST (never
a redirect whose URL would carry the justification) with Cache-Control: no-store.
Operator and officer actions call the same use cases as the admin handlers
(gateway/api_keys.py, kyc_service.record_verification).

A role that sees customer ids masked cannot be given them in links either: its links
carry the id sealed with the gateway's key (`sealed:`), as the customers list's page
tokens are (gateway/http/admin/disclosure.py).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime
from typing import Any, get_args

from aiohttp import web
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from gateway import appkeys as K
from gateway import kyc_service
from gateway.api_keys import revoke_api_key
from gateway.audit.disclosure import JUSTIFICATION_CHARS, BadJustification, Unmasking, unmask
from gateway.audit.masking import Viewer
from gateway.http.admin.disclosure import endpoint_of, page_token, read_page_token
from gateway.http.admin.errors import AdminError
from gateway.http.admin.kyc import VerificationChange
from gateway.http.console.csrf import form_of
from gateway.http.console.errors import ConsoleError, bad_input
from gateway.http.console.render import render
from gateway.http.console.session import ConsoleUser, console_user
from gateway.roles import Permission
from gateway.store import customers as store
from gateway.store import decisions as decisions_store
from gateway.store import kyc as kyc_store

routes = web.RouteTableDef()

PAGE_SIZE = 50  # customers per list page
RECENT_DECISIONS = 20  # a customer's newest decisions on their page
# The decisions the admin API takes, as its body model lists them.
VERIFICATION_DECISIONS: tuple[str, ...] = get_args(VerificationChange.model_fields["decision"].annotation)
_SEALED = "sealed:"
_LINK_BINDING = "console.customer"
_NO_STORE = "no-store"


def customer_link(request: web.Request, viewer: Viewer, customer_id: str) -> str:
    """The customer's page, with the id in clear only for a role that sees it so."""
    if viewer.sees_clear(None):
        return f"/console/customers/{customer_id}"
    sealed = request.app[K.SECRET_BOX].seal(customer_id, bound_to=_LINK_BINDING)
    return f"/console/customers/{_SEALED}{base64.urlsafe_b64encode(sealed).decode()}"


def _customer_id(request: web.Request) -> uuid.UUID:
    """The path's customer: a sealed link this console issued, or an id (as the admin API
    takes it from any role that reads customers)."""
    raw = request.match_info["customer"]
    try:
        if raw.startswith(_SEALED):
            sealed = base64.urlsafe_b64decode(raw.removeprefix(_SEALED).encode())
            raw = request.app[K.SECRET_BOX].open(sealed, bound_to=_LINK_BINDING)
        return uuid.UUID(raw)
    except (ValueError, InvalidTag) as exc:
        raise ConsoleError(404, "No such customer", "That link names no customer.") from exc


@routes.get("/console/customers")
async def customer_list(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_CUSTOMERS)
    wanted = request.query.get("id", "").strip()
    if wanted:  # "open by id": an id someone was given (a case file, the admin API)
        try:
            customer_id = uuid.UUID(wanted)
        except ValueError as exc:
            raise bad_input("A customer id looks like 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.") from exc
        raise web.HTTPSeeOther(customer_link(request, Viewer(user.role), str(customer_id)))
    try:
        after = read_page_token(request, user.role)
    except AdminError as exc:
        raise bad_input("That page link is not one the console issued.") from exc
    viewer = Viewer(user.role)
    async with request.app[K.POOL].acquire() as conn:
        rows = await store.list_customers(conn, PAGE_SIZE, after)
    last = rows[-1]["reference"] if len(rows) == PAGE_SIZE else None
    customers = [
        {**viewer.present("customer", row), "link": customer_link(request, viewer, row["id"])} for row in rows
    ]
    return render(
        request, "customers/list.html", user,
        customers=customers, next_page=page_token(request, viewer, last), first_page=after is None,
    )  # fmt: skip


@routes.get("/console/customers/{customer}")
async def customer_page(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_CUSTOMERS)
    return await _customer_answer(request, user, _customer_id(request), Viewer(user.role))


@routes.post("/console/customers/{customer}/unmask")
async def unmask_customer(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.UNMASK_PERSONAL_DATA)
    customer_id = _customer_id(request)
    form = await form_of(request)
    justification = str(form.get("justification", ""))
    await _existing(request, customer_id)  # no access is logged for a customer that is not there
    try:
        unmasking = await unmask(
            request.app[K.POOL], request.app[K.AUDIT_EVENTS], request.app[K.METRICS],
            role=user.role, actor=user.actor, customer_id=customer_id, justification=justification,
            details={"method": request.method, "endpoint": endpoint_of(request), "query": {}},
        )  # fmt: skip
    except BadJustification as exc:
        problem = {"field": "justification", "message": str(exc)}
        return await _customer_answer(
            request, user, customer_id, Viewer(user.role), status=422,
            problem=problem, justification=justification,
        )  # fmt: skip
    # Answered here, not redirected: the justification stays out of URLs and history, and
    # the clear page is not kept by any cache.
    response = await _customer_answer(request, user, customer_id, unmasking.viewer, unmasking=unmasking)
    response.headers["Cache-Control"] = _NO_STORE
    return response


@routes.post("/console/api-keys/{key_id}/revoke")
async def revoke_key(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.MANAGE_KEYS)
    try:
        key_id = uuid.UUID(request.match_info["key_id"])
    except ValueError as exc:
        raise ConsoleError(404, "No such API key", "That API key link is not valid.") from exc
    app = request.app
    try:
        key = await revoke_api_key(app[K.POOL], app[K.AUDIT_EVENTS], app[K.KEYS], key_id, actor=user.actor)
    except store.NotFound as exc:
        raise ConsoleError(404, "No such API key", "There is no API key with that id.") from exc
    raise web.HTTPSeeOther(customer_link(request, Viewer(user.role), key["customer_id"]) + "#api-keys")


@routes.post("/console/customers/{customer}/verification")
async def record_verification(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.VERIFY_KYC)
    customer_id = _customer_id(request)
    form = await form_of(request)
    fields = {name: str(form.get(name, "")).strip() for name in ("decision", "level", "valid_until", "note")}
    app, now = request.app, datetime.now(UTC)
    settings = app[K.SETTINGS]
    levels = _levels(request, settings.rules_day(now))
    try:
        asked = _verification_asked(fields)
        await kyc_service.record_verification(
            app[K.POOL], app[K.AUDIT_EVENTS], app[K.KEYS], customer_id, asked,
            actor=user.actor, now=now, levels=levels, home=settings.home_country,
        )  # fmt: skip
    except kyc_service.VerificationRefused as exc:
        problem = {"field": exc.field or "decision", "message": exc.message}
        return await _customer_answer(
            request, user, customer_id, Viewer(user.role),
            status=409 if exc.conflict else 422, problem=problem, verification_form=fields,
        )  # fmt: skip
    raise web.HTTPSeeOther(customer_link(request, Viewer(user.role), str(customer_id)) + "#kyc")


def _levels(request: web.Request, on: date) -> set[str]:
    """The levels an officer may verify at: the home pack's, as the admin API offers."""
    return kyc_service.verification_levels(
        request.app[K.RULES].book, request.app[K.SETTINGS].home_country, on
    )


def _verification_asked(fields: dict[str, str]) -> kyc_service.VerificationDecision:
    """The form read by the admin API's own body model (VerificationChange): a value the API
    would refuse is a 422 here too. Empty fields are left out, as a JSON body leaves them."""
    try:
        body = VerificationChange.model_validate({k: v for k, v in fields.items() if v})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "decision"
        raise kyc_service.VerificationRefused(
            f"{field.replace('_', ' ').capitalize()}: {error['msg']}.", conflict=False, field=field
        ) from exc
    return kyc_service.VerificationDecision(body.decision, body.level, body.valid_until, body.note)


async def _existing(request: web.Request, customer_id: uuid.UUID) -> dict[str, Any]:
    async with request.app[K.POOL].acquire() as conn:
        try:
            return await store.get_customer(conn, customer_id)
        except store.NotFound as exc:
            raise ConsoleError(404, "No such customer", "There is no customer with that id.") from exc


async def _customer_answer(
    request: web.Request,
    user: ConsoleUser,
    customer_id: uuid.UUID,
    viewer: Viewer,
    *,
    status: int = 200,
    unmasking: Unmasking | None = None,
    **extra: Any,
) -> web.Response:
    """The customer's page as `viewer` may see it; `extra` carries a form's problem back."""
    app, now = request.app, datetime.now(UTC)
    settings = app[K.SETTINGS]
    today = settings.rules_day(now)  # the day identity documents' expiries are judged on, as the API does
    customer = await _existing(request, customer_id)
    async with app[K.POOL].acquire() as conn:
        identity = await kyc_service.identity_view(conn, app[K.SECRET_BOX], customer_id, viewer, today=today)
        verification = await kyc_store.load_verification(conn, customer_id)
        history = await kyc_store.verification_history(conn, customer_id)
        accounts = await kyc_store.bank_accounts(conn, customer_id)
        keys = await store.list_keys(conn, customer_id)
    decisions = None
    if user.can(Permission.READ_DECISIONS):  # an operator manages customers but reads no decisions
        async with app[K.AUDIT_READS].acquire() as conn:  # the read replica, if any
            flt = decisions_store.DecisionFilter(customer_id=customer_id)
            rows, _ = await decisions_store.search(conn, flt, RECENT_DECISIONS, None)
        decisions = [viewer.present("decision", row) for row in rows]
    levels = _levels(request, today)
    return render(
        request, "customers/detail.html", user, status=status,
        customer=viewer.present("customer", customer),
        # The page's own address (as linked, sealed or not), so its forms post back to it.
        link=f"/console/customers/{request.match_info['customer']}",
        identity=identity,
        verification=verification.verification if verification else None,
        history=history, bank_accounts=accounts,
        api_keys=[viewer.present("api_key", k) for k in keys],
        decisions=decisions, unmasking=unmasking, levels=sorted(levels),
        decisions_choices=VERIFICATION_DECISIONS, justification_chars=JUSTIFICATION_CHARS,
        can_unmask=user.can(Permission.UNMASK_PERSONAL_DATA),
        can_revoke=user.can(Permission.MANAGE_KEYS), can_verify=user.can(Permission.VERIFY_KYC),
        **{"problem": None, "justification": "", "verification_form": None, **extra},
    )  # fmt: skip
