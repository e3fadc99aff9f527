"""Reading admin requests: who is asking, and their JSON body validated with pydantic."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway import appkeys as K
from gateway.http.admin.errors import AdminError
from gateway.http.admin.queries import QuerySource
from gateway.roles import Permission

M = TypeVar("M", bound=BaseModel)
MAX_PAGE = 500
# Tokens are printable ASCII (GATEWAY_ADMIN_TOKENS): anything else is no token we hold,
# and bytes that are not UTF-8 (aiohttp hands them on as surrogates) cannot be hashed.
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
# Postgres text and jsonb refuse NUL, and other control characters have no place in a
# stored value; tab and line breaks may stand in free text such as a review note.
STORED_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def require(request: web.Request, permission: Permission) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AdminError(401, "unauthorized", "A bearer token is required.")
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        raise AdminError(401, "unauthorized", "The bearer token is not valid.")
    tokens = request.app[K.ADMIN_TOKENS]
    role = tokens.role_of(token)
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
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, "invalid_json", f"Body is not valid JSON: {exc}") from exc
    problem = _body_problem(raw)
    if problem is not None:
        raise AdminError(422, "validation_failed", "The request body is not valid.", [problem])
    return data


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the pairs it was written with: a repeated key is still there."""


def _body_problem(raw: bytes) -> dict[str, str] | None:
    """The first key given twice, or string Postgres would refuse, in a body orjson took.

    orjson keeps the last of two equal keys without a word, so `{"status": "active",
    "status": "closed"}` would be read as one of them while a reviewer reads the other:
    refused, as a query parameter given twice is. The stdlib parser keeps the pairs; the
    admin API is not hot, so parsing twice costs nothing that matters."""
    try:
        tree = json.loads(raw, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError) as exc:  # orjson took it: only limits differ (depth, digits)
        raise AdminError(400, "invalid_json", "Body is nested too deeply or has too long a number.") from exc
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, _ in node:
                if key in seen:
                    return {"field": _field((*path, key)), "problem": "given more than once"}
                if STORED_CONTROL.search(key):
                    return {"field": _field((*path, key)), "problem": "the key holds a control character"}
                seen.add(key)
            stack.extend(((*path, key), value) for key, value in reversed(node))
        elif isinstance(node, list):
            stack.extend(((*path, i), item) for i, item in reversed(list(enumerate(node))))
        elif isinstance(node, str) and STORED_CONTROL.search(node):
            return {"field": _field(path), "problem": "holds a control character"}
    return None


def _field(path: tuple[str | int, ...]) -> str:
    """A place in the body as pydantic names one: keys and indexes joined by dots."""
    return ".".join(str(p) for p in path)


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


def page_limit(request: QuerySource) -> int:
    raw = request.query.get("limit", "100")
    # ASCII digits only: isdigit() alone accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise AdminError(
            422, "validation_failed", f"limit must be 1..{MAX_PAGE}", [{"field": "limit", "problem": raw}]
        )
    return int(raw)
