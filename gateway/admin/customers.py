"""Admin: customers and their API keys (role `operator` manages, `auditor` reads)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway import appkeys as K
from gateway.admin.errors import AdminError, json_response
from gateway.admin.requests import page_limit, path_uuid, read_json, require
from gateway.admin.tokens import Permission
from gateway.store import customers as store

routes = web.RouteTableDef()


class NewCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    status: Literal["active", "suspended", "closed"] = "active"


class CustomerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "suspended", "closed"]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=100)


def _translate(exc: Exception) -> AdminError:
    if isinstance(exc, store.NotFound):
        return AdminError(404, "not_found", str(exc))
    return AdminError(409, "conflict", str(exc))


@routes.post("/admin/v1/customers")
async def create_customer(request: web.Request) -> web.Response:
    require(request, Permission.MANAGE_CUSTOMERS)
    body = await read_json(request, NewCustomer)
    async with request.app[K.POOL].acquire() as conn:
        try:
            customer = await store.create_customer(conn, body.reference, body.status)
        except store.Conflict as exc:
            raise _translate(exc) from exc
    return json_response(customer, status=201)


@routes.get("/admin/v1/customers")
async def list_customers(request: web.Request) -> web.Response:
    require(request, Permission.READ_CUSTOMERS)
    limit = page_limit(request)
    after = request.query.get("after")
    async with request.app[K.POOL].acquire() as conn:
        rows = await store.list_customers(conn, limit, after)
    return json_response({"customers": rows, "next": rows[-1]["reference"] if len(rows) == limit else None})


@routes.get("/admin/v1/customers/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    require(request, Permission.READ_CUSTOMERS)
    customer_id = path_uuid(request, "customer_id")
    async with request.app[K.POOL].acquire() as conn:
        try:
            return json_response(await store.get_customer(conn, customer_id))
        except store.NotFound as exc:
            raise _translate(exc) from exc


@routes.patch("/admin/v1/customers/{customer_id}")
async def change_customer(request: web.Request) -> web.Response:
    require(request, Permission.MANAGE_CUSTOMERS)
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, CustomerChange)
    async with request.app[K.POOL].acquire() as conn:
        try:
            customer = await store.set_customer_status(conn, customer_id, body.status)
        except store.NotFound as exc:
            raise _translate(exc) from exc
    request.app[K.KEYS].forget()  # a suspension must bite at once on this replica
    return json_response(customer)


@routes.post("/admin/v1/customers/{customer_id}/api-keys")
async def issue_key(request: web.Request) -> web.Response:
    require(request, Permission.MANAGE_KEYS)
    customer_id = path_uuid(request, "customer_id")
    body = await read_json(request, NewKey)
    async with request.app[K.POOL].acquire() as conn:
        try:
            issued = await store.issue_key(conn, request.app[K.SECRET_BOX], customer_id, body.label)
        except (store.NotFound, store.Conflict) as exc:
            raise _translate(exc) from exc
    return json_response(asdict(issued), status=201)


@routes.get("/admin/v1/customers/{customer_id}/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    require(request, Permission.READ_CUSTOMERS)
    customer_id = path_uuid(request, "customer_id")
    async with request.app[K.POOL].acquire() as conn:
        try:
            return json_response({"api_keys": await store.list_keys(conn, customer_id)})
        except store.NotFound as exc:
            raise _translate(exc) from exc


@routes.delete("/admin/v1/api-keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    require(request, Permission.MANAGE_KEYS)
    key_id = path_uuid(request, "key_id")
    async with request.app[K.POOL].acquire() as conn:
        try:
            key = await store.revoke_key(conn, key_id)
        except store.NotFound as exc:
            raise _translate(exc) from exc
    request.app[K.KEYS].forget(key["api_key"])
    return json_response(key)
