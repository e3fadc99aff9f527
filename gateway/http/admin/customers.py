"""Admin: customers and their API keys (role `operator` manages, `auditor` reads).

Every change is written to the audit log in its own transaction; reads are masked by
role (gateway/http/admin/disclosure.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway import appkeys as K
from gateway.api_keys import revoke_api_key
from gateway.audit.events import EventKind
from gateway.http.admin.disclosure import UNMASK_PARAMS, actor_of, page_token, read_page_token, viewer_for
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import page_limit, path_uuid, read_json, require
from gateway.roles import Permission
from gateway.store import customers as store
from kyc.countries import normalise_country, normalise_region
from kyc.errors import KycValidationError

routes = web.RouteTableDef()


def _not_null(value: Any) -> Any:
    """For a column that cannot be NULL: left out, the field keeps its value (or takes the
    column's default); an explicit null is refused here, not by the database as a 500.
    Runs only on values given, never on the default."""
    if value is None:
        raise ValueError("may not be null: leave the field out instead")
    return value


NotNull = AfterValidator(_not_null)
Status = Literal["active", "suspended", "closed"]
_LIST_PARAMS = frozenset({"limit", "after"})
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _Jurisdiction(BaseModel):
    """Where the customer lives and which nationality they hold: selects country rules.
    The countries and the region may be null (not known); the type may not."""

    model_config = ConfigDict(extra="forbid")
    customer_type: Annotated[Literal["individual", "corporate"] | None, NotNull] = None
    residence_country: Country | None = None
    residence_region: Country | None = None
    nationality: Country | None = None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"reference"})


class NewCustomer(_Jurisdiction):
    reference: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    status: Status = "active"


class CustomerChange(_Jurisdiction):
    status: Annotated[Status | None, NotNull] = None


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=100)


def _check_jurisdiction(customer: dict[str, Any]) -> None:
    """A customer's residence as the country rules need it: a whole customer (as created,
    or as stored with a change applied), never a change alone. The codes are checked as
    the identity record checks them (kyc/countries.py): a made-up country or US state
    would select no rules at all."""
    country, region = customer.get("residence_country"), customer.get("residence_region")
    try:
        for field in ("residence_country", "nationality"):
            if customer.get(field) is not None:
                normalise_country(customer[field], field)
        if country is not None:
            # US rules differ by state (licences such as New York's), so a US residence
            # needs a real one.
            normalise_region(country, region)
        elif region:
            raise KycValidationError("residence_region", "needs_country", "needs residence_country")
    except KycValidationError as exc:
        raise AdminError(
            422, "validation_failed", "The request body is not valid.",
            [{"field": exc.field, "problem": exc.message}],
        ) from exc  # fmt: skip


def _jurisdiction_change(stored: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """What a change writes. A region names a subdivision of its country, so a change of
    country that does not give a region clears the stored one (a US residence must give
    it, see _check_jurisdiction)."""
    moved = "residence_country" in change and change["residence_country"] != stored["residence_country"]
    if moved and "residence_region" not in change:
        return {**change, "residence_region": None}
    return change


def _change(fields: dict[str, Any]) -> dict[str, Any]:
    """What an audit entry says about a customer change: the status, and which other
    fields were set (their values are personal data and stay in the customers table)."""
    return {"status": fields.get("status"), "fields": sorted(fields)}


def _translate(exc: Exception) -> AdminError:
    if isinstance(exc, store.NotFound):
        return AdminError(404, "not_found", str(exc))
    return AdminError(409, "conflict", str(exc))


@routes.post("/admin/v1/customers")
async def create_customer(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_CUSTOMERS)
    check_params(request, frozenset())
    body = await read_json(request, NewCustomer)
    _check_jurisdiction(body.fields())
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        try:
            customer = await store.create_customer(conn, body.reference, body.fields())
        except store.Conflict as exc:
            raise _translate(exc) from exc
        await log.append(
            EventKind.CUSTOMER_CREATED, actor_of(request, role), subject_type="customer",
            subject_id=customer["id"], details=_change(body.fields()),
        )  # fmt: skip
    return json_response(customer, status=201)


@routes.get("/admin/v1/customers")
async def list_customers(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_CUSTOMERS)
    check_params(request, _LIST_PARAMS | UNMASK_PARAMS)
    limit = page_limit(request)
    after = read_page_token(request, role)
    viewer = await viewer_for(request, role)
    async with request.app[K.POOL].acquire() as conn:
        rows = await store.list_customers(conn, limit, after)
    last = rows[-1]["reference"] if len(rows) == limit else None
    shown = [viewer.present("customer", r) for r in rows]
    return json_response({"customers": shown, "next": page_token(request, viewer, last)})


@routes.get("/admin/v1/customers/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_CUSTOMERS)
    check_params(request, UNMASK_PARAMS)
    customer_id = path_uuid(request, "customer_id")
    viewer = await viewer_for(request, role)
    async with request.app[K.POOL].acquire() as conn:
        try:
            return json_response(viewer.present("customer", await store.get_customer(conn, customer_id)))
        except store.NotFound as exc:
            raise _translate(exc) from exc


@routes.patch("/admin/v1/customers/{customer_id}")
async def change_customer(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_CUSTOMERS)
    check_params(request, frozenset())
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, CustomerChange)
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        try:
            # Locked until the UPDATE commits: the check sees the row the change is applied
            # to, even with a concurrent change (or identity submission) on another replica.
            stored = await store.get_customer(conn, customer_id, for_update=True)
        except store.NotFound as exc:
            raise _translate(exc) from exc
        fields = _jurisdiction_change(stored, body.fields())
        if fields.keys() & {"residence_country", "residence_region", "nationality"}:
            # Only a change of jurisdiction is checked: a row stored inconsistent before
            # this check existed must still take a suspension.
            _check_jurisdiction({**stored, **fields})
        customer = await store.update_customer(conn, customer_id, fields)
        await log.append(
            EventKind.CUSTOMER_CHANGED, actor_of(request, role), subject_type="customer",
            subject_id=customer["id"], details=_change(fields),
        )  # fmt: skip
    request.app[K.KEYS].forget()  # a suspension or a move must bite at once on this replica
    return json_response(customer)


@routes.post("/admin/v1/customers/{customer_id}/api-keys")
async def issue_key(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_KEYS)
    check_params(request, frozenset())
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, NewKey)
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        try:
            issued = await store.issue_key(conn, request.app[K.SECRET_BOX], customer_id, body.label)
        except (store.NotFound, store.Conflict) as exc:
            raise _translate(exc) from exc
        await log.append(
            EventKind.API_KEY_ISSUED, actor_of(request, role), subject_type="customer",
            subject_id=str(customer_id), details={"api_key_id": issued.id},
        )  # fmt: skip
    return json_response(asdict(issued), status=201)


@routes.get("/admin/v1/customers/{customer_id}/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_CUSTOMERS)
    check_params(request, UNMASK_PARAMS)
    customer_id = path_uuid(request, "customer_id")
    viewer = await viewer_for(request, role)
    async with request.app[K.POOL].acquire() as conn:
        try:
            keys = await store.list_keys(conn, customer_id)
            return json_response({"api_keys": [viewer.present("api_key", k) for k in keys]})
        except store.NotFound as exc:
            raise _translate(exc) from exc


@routes.delete("/admin/v1/api-keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_KEYS)
    check_params(request, frozenset())
    key_id = path_uuid(request, "key_id")
    app = request.app
    try:
        key = await revoke_api_key(
            app[K.POOL], app[K.AUDIT_EVENTS], app[K.KEYS], key_id, actor=actor_of(request, role)
        )
    except store.NotFound as exc:
        raise _translate(exc) from exc
    return json_response(key)
