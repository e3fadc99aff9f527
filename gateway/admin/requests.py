"""Reading admin requests: who is asking, and their JSON body validated with pydantic."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway import appkeys as K
from gateway.admin.errors import AdminError
from gateway.admin.tokens import Permission

M = TypeVar("M", bound=BaseModel)
MAX_PAGE = 500


def require(request: web.Request, permission: Permission) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AdminError(401, "unauthorized", "A bearer token is required.")
    tokens = request.app[K.ADMIN_TOKENS]
    role = tokens.role_of(token.strip())
    if role is None:
        raise AdminError(401, "unauthorized", "The bearer token is not valid.")
    if not tokens.allows(role, permission):
        raise AdminError(403, "forbidden", f"Role {role!r} may not {permission.value}.")
    return role


async def read_json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise AdminError(415, "unsupported_content_type", "Content-Type must be application/json.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise AdminError(413, "body_too_large", "Request body is larger than allowed.") from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, "invalid_json", f"Body is not valid JSON: {exc}") from exc


def validation_error(exc: ValidationError) -> AdminError:
    """Field-level problems, without echoing the input (it may be personal data)."""
    details = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
    return AdminError(422, "validation_failed", "The request body is not valid.", details)


async def read_json(request: web.Request, model: type[M]) -> M:
    data = await read_json_body(request)
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError as exc:
        raise AdminError(404, "not_found", f"No {name.removesuffix('_id')} with that id.") from exc


def page_limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    # ASCII digits only: isdigit() alone accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise AdminError(
            422, "validation_failed", f"limit must be 1..{MAX_PAGE}", [{"field": "limit", "problem": raw}]
        )
    return int(raw)
