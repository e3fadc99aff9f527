"""The admin API's OpenAPI 3.1 document, generated, never written by hand.

Paths and methods come from the running app's router (every route under /admin/v1);
what each operation reads and answers comes from pydantic models: the request bodies
the handlers validate with, the query models (gateway/http/admin/query_schemas.py) and the
answer models (gateway/http/admin/schemas.py, control_schemas.py). What is kept by hand per
route is a small declaration (gateway/http/admin/operations.py): its summary, the permissions
it requires, and which model answers which status. tests/gateway/test_openapi.py fails
when a route has no declaration, when a declaration names no route, and when a real
answer does not match its schema.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.http.admin import schemas as S
from gateway.http.admin.edge import RULE_PACK_VERSION
from gateway.http.admin.operations import OPERATIONS, Model, Operation
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import require
from gateway.roles import Permission

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

PREFIX = "/admin/v1/"
COMPONENTS = "#/components/schemas/{model}"
ERROR_RESPONSE = {"$ref": "#/components/responses/Error"}
# A model's $ref into components, per (model, mode) (pydantic's models_json_schema).
Refs = Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]]


Handler = Callable[..., Any]


def admin_routes(app: web.Application) -> dict[tuple[str, str], Handler]:
    """(method, path template) -> handler for every admin route of the app's router. HEAD
    is left out: aiohttp adds it to every GET, with the same answer and no body."""
    found: dict[tuple[str, str], Handler] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD" or not resource.canonical.startswith(PREFIX):
            continue
        found[(route.method, resource.canonical)] = route.handler
    return found


def document(app: web.Application) -> bytes:
    """The document as served: built once per set of routes (the same for every app)."""
    key = tuple(sorted((m, p, h.__module__, h.__name__) for (m, p), h in admin_routes(app).items()))
    return _built(key)


@functools.lru_cache(maxsize=4)
def _built(route_keys: tuple[tuple[str, str, str, str], ...]) -> bytes:
    return orjson.dumps(build(route_keys))


def build(route_keys: tuple[tuple[str, str, str, str], ...]) -> dict[str, Any]:
    refs, components = _component_schemas()
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for method, path, module, name in route_keys:
        declared = OPERATIONS.get((method, path))
        if declared is None:  # the coverage test names it; the document stays servable
            log.warning("admin route %s %s has no OpenAPI declaration", method, path)
            continue
        tag = module.rsplit(".", 1)[-1]
        operation_id = name if name not in operation_ids else f"{tag}_{name}"
        operation_ids.add(operation_id)
        paths.setdefault(path, {})[method.lower()] = _operation(declared, path, tag, operation_id, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Compliance gateway admin API",
            "version": "v1",
            "description": "Generated from the gateway's routes and pydantic models "
            "(gateway/http/admin/openapi.py).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": {
                "Error": {
                    "description": "An admin error: one shape for every one",
                    "content": {"application/json": {"schema": refs[(S.AdminErrorBody, "serialization")]}},
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _component_schemas() -> tuple[Refs, dict[str, Any]]:
    """Every body (as validated) and answer (as serialised), with $refs into components."""
    wanted: set[tuple[Model, JsonSchemaMode]] = {(S.AdminErrorBody, "serialization")}
    for op in OPERATIONS.values():
        if op.body is not None:
            wanted.add((op.body, "validation"))
        wanted.update((m, "serialization") for m in op.answers.values())
        if op.export is not None:
            wanted.add((op.export, "serialization"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, defs = models_json_schema(ordered, ref_template=COMPONENTS)
    return refs, dict(defs.get("$defs", {}))


def _operation(op: Operation, path: str, tag: str, operation_id: str, refs: Refs) -> dict[str, Any]:
    roles = op.roles
    body: dict[str, Any] = {
        "operationId": operation_id,
        "summary": op.summary,
        "description": f"Roles: {', '.join(roles) or 'none'} (permissions: "
        f"{', '.join(p.value for p in op.permissions)}).",
        "tags": [tag],
        "x-roles": roles,
        "x-permissions": [p.value for p in op.permissions],
    }
    parameters = _path_parameters(path) + (_query_parameters(op.query) if op.query else [])
    if parameters:
        body["parameters"] = parameters
    if op.body is not None:
        body["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    body["responses"] = _responses(op, path, refs)
    return body


def _responses(op: Operation, path: str, refs: Refs) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, model in sorted(op.answers.items()):
        answers[str(status)] = {
            "description": model.__doc__.strip().splitlines()[0] if model.__doc__ else model.__name__,
            "content": {"application/json": {"schema": refs[(model, "serialization")]}},
        }
    if op.export is not None:
        row = refs[(op.export, "serialization")]
        answers["200"] = {
            "description": "A stream: CSV with a header row, or JSON Lines (one row object a line)",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "x-row-schema": row},
                "application/x-ndjson": {"schema": {"type": "string"}, "x-row-schema": row},
            },
        }
    errors = {
        401: "no valid bearer token",
        403: "the token's role may not do this",
        422: "a parameter or the body is not valid (details name each field)",
        503: "the database is unavailable",
    }
    if "{" in path:
        errors[404] = "nothing with that id"
    if op.body is not None:
        errors |= {400: "the body is not JSON", 413: "the body is too large", 415: "not application/json"}
    errors |= op.errors
    for status, what in sorted(errors.items()):
        answers[str(status)] = {**_error_content(), "description": what}
    answers["4XX"] = ERROR_RESPONSE
    answers["5XX"] = ERROR_RESPONSE
    return answers


def _error_content() -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": COMPONENTS.format(model="AdminErrorBody")}}}}


_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_UUID = {"type": "string", "format": "uuid"}
_VERSION = {"type": "string", "pattern": f"^{RULE_PACK_VERSION.pattern}$"}
_PATH_FORMATS = {"version": _VERSION, "other": _VERSION}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """As the admin edge reads them (gateway/http/admin/edge.py): every `…_id` is a UUID, a
    rule-pack version is `sha256:` and hex."""
    return [
        {"name": name, "in": "path", "required": True, "schema": _PATH_FORMATS.get(name, _UUID)}
        for name in _PATH_PARAMETER.findall(path)
    ]


def _query_parameters(model: Model) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=COMPONENTS)
    if "$defs" in schema:
        raise ValueError(f"{model.__name__}: a query parameter must be a plain value, not a model")
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = _not_null(prop)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            parameter["description"] = prop.pop("description")
        prop.pop("title", None)
        parameter["schema"] = prop
        parameters.append(parameter)
    return parameters


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: `X | None` is described as X."""
    options = [o for o in prop.get("anyOf", ()) if o != {"type": "null"}]
    if len(options) != 1:
        return dict(prop)
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**options[0], **rest}


@routes.get("/admin/v1/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    """Any admin token may read it: it describes the API, not its data."""
    require(request, Permission.DESCRIBE_API)
    check_params(request, frozenset())
    return web.Response(body=document(request.app), content_type="application/json")
