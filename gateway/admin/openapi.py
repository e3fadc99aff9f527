"""The admin API's OpenAPI 3.1 document, generated, never written by hand.

Paths and methods come from the running app's router (every route under /admin/v1);
what each operation reads and answers comes from pydantic models: the request bodies
the handlers validate with, the query models (gateway/admin/query_schemas.py) and the
answer models (gateway/admin/schemas.py, control_schemas.py). The one thing kept here
per route is a small declaration (OPERATIONS): its summary, the permissions it requires
(the roles that may call it follow from ROLE_PERMISSIONS), and which model answers which
status. tests/gateway/test_openapi.py fails when a route has no declaration, when a
declaration names no route, and when a real answer does not match its schema.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.admin import control_schemas as C
from gateway.admin import query_schemas as Q
from gateway.admin import schemas as S
from gateway.admin.customers import CustomerChange, NewCustomer, NewKey
from gateway.admin.deposits import DepositIn
from gateway.admin.kyc import NewBankAccount, VerificationChange
from gateway.admin.queries import check_params
from gateway.admin.reports import ReportChange
from gateway.admin.requests import require
from gateway.admin.review import ReviewNote
from gateway.admin.rule_packs import ReplayRequest
from gateway.admin.tokens import ROLE_PERMISSIONS, Permission
from gateway.sanctions_sources import SnapshotPayload
from kyc.identity import IdentityIn

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

PREFIX = "/admin/v1/"
COMPONENTS = "#/components/schemas/{model}"
ERROR_RESPONSE = {"$ref": "#/components/responses/Error"}
Model = type[BaseModel]


@dataclass(frozen=True)
class Operation:
    summary: str
    permissions: tuple[Permission, ...]  # all of them are required
    answers: Mapping[int, Model] = field(default_factory=dict)
    query: Model | None = None
    body: Model | None = None
    errors: Mapping[int, str] = field(default_factory=dict)  # statuses worth naming
    export: Model | None = None  # a CSV / JSON Lines stream of these rows

    @property
    def roles(self) -> list[str]:
        return sorted(r for r, granted in ROLE_PERMISSIONS.items() if set(self.permissions) <= granted)


def _op(summary: str, *permissions: Permission, **details: Any) -> Operation:
    return Operation(summary, permissions, **details)


P = Permission
_CUSTOMER = "/admin/v1/customers/{customer_id}"
_NO_CUSTOMER = {404: "no customer with that id"}
_HOLD_DECIDED = {404: "no hold with that id", 409: "the hold is not pending, or has expired"}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/admin/v1/customers"): _op(
        "Create a customer",
        P.MANAGE_CUSTOMERS,
        body=NewCustomer,
        answers={201: S.Customer},
        errors={409: "a customer with that reference exists"},
    ),
    ("GET", "/admin/v1/customers"): _op(
        "List customers by reference",
        P.READ_CUSTOMERS,
        query=Q.CustomerListQuery,
        answers={200: S.CustomerPage},
    ),
    ("GET", _CUSTOMER): _op("One customer", P.READ_CUSTOMERS, query=Q.UnmaskQuery, answers={200: S.Customer}),
    ("PATCH", _CUSTOMER): _op(
        "Change a customer's status, type or jurisdiction",
        P.MANAGE_CUSTOMERS,
        body=CustomerChange,
        answers={200: S.Customer},
    ),
    ("POST", _CUSTOMER + "/api-keys"): _op(
        "Issue an API key (the secret is shown once)",
        P.MANAGE_KEYS,
        body=NewKey,
        answers={201: S.IssuedKey},
        errors=_NO_CUSTOMER,
    ),
    ("GET", _CUSTOMER + "/api-keys"): _op(
        "A customer's API keys, without secrets",
        P.READ_CUSTOMERS,
        query=Q.UnmaskQuery,
        answers={200: S.ApiKeyList},
    ),
    ("DELETE", "/admin/v1/api-keys/{key_id}"): _op(
        "Revoke an API key", P.MANAGE_KEYS, answers={200: S.ApiKey}
    ),
    ("GET", "/admin/v1/decisions"): _op(
        "Search the decision log",
        P.READ_DECISIONS,
        query=Q.DecisionSearchQuery,
        answers={200: S.DecisionPage},
    ),
    ("GET", "/admin/v1/decisions/export"): _op(
        "Export the decision log (streamed)",
        P.EXPORT_DECISIONS,
        query=Q.DecisionExportQuery,
        export=S.DecisionRow,
    ),
    ("GET", "/admin/v1/decisions/{decision_id}"): _op(
        "One decision with what the exchange answered",
        P.READ_DECISIONS,
        query=Q.UnmaskQuery,
        answers={200: S.Decision},
    ),
    ("POST", "/admin/v1/deposits"): _op(
        "Report a deposit the exchange credited (decided by the AML rules)",
        P.MANAGE_CUSTOMERS,
        body=DepositIn,
        answers={201: S.DepositDecision, 200: S.DepositDecision},
        errors={404: "no customer with that id", 503: "the deposit could not be decided"},
    ),
    ("PUT", _CUSTOMER + "/identity"): _op(
        "Submit a customer's identity (verification goes back to pending)",
        P.MANAGE_CUSTOMERS,
        body=IdentityIn,
        answers={200: S.SubmittedIdentity},
        errors={409: "the identity belongs to another customer"},
    ),
    ("GET", _CUSTOMER + "/identity"): _op(
        "A customer's identity, masked unless unmasked",
        P.READ_CUSTOMERS,
        query=Q.UnmaskQuery,
        answers={200: S.StoredIdentity},
    ),
    ("POST", _CUSTOMER + "/verification"): _op(
        "Verify, reject or expire a customer's identity",
        P.VERIFY_KYC,
        body=VerificationChange,
        answers={200: S.Verification},
        errors={409: "no identity yet, a transition not allowed, or the verification changed meanwhile"},
    ),
    ("GET", _CUSTOMER + "/verification"): _op(
        "A customer's verification and its history", P.READ_CUSTOMERS, answers={200: S.VerificationRecord}
    ),
    ("POST", _CUSTOMER + "/bank-accounts"): _op(
        "Add a real-name bank account",
        P.MANAGE_CUSTOMERS,
        body=NewBankAccount,
        answers={201: S.BankAccount},
        errors={409: "no identity yet, or the account is on record already"},
    ),
    ("GET", _CUSTOMER + "/bank-accounts"): _op(
        "A customer's bank accounts, without numbers or names",
        P.READ_CUSTOMERS,
        answers={200: S.BankAccountList},
    ),
    ("GET", "/admin/v1/rule-packs"): _op(
        "The rule packs in force and every version seen", P.READ_RULES, answers={200: C.RulePacks}
    ),
    ("GET", "/admin/v1/rule-packs/{version}"): _op(
        "One rule pack version", P.READ_RULES, answers={200: C.RulePackVersion}
    ),
    ("GET", "/admin/v1/rule-packs/{version}/diff/{other}"): _op(
        "Rules added, removed and changed between two versions", P.READ_RULES, answers={200: C.RulePackDiff}
    ),
    ("POST", "/admin/v1/rule-packs/reload"): _op(
        "Read the rule packs from disk again",
        P.MANAGE_RULES,
        answers={200: C.Reload},
        errors={422: "a pack on disk is not valid; the running one stays"},
    ),
    ("POST", "/admin/v1/rule-packs/{version}/replay"): _op(
        "Decide logged decisions again under a version (nothing is written)",
        P.READ_RULES,
        P.READ_DECISIONS,
        body=ReplayRequest,
        answers={200: C.ReplayReport},
        errors={409: "the version no longer validates"},
    ),
    ("GET", "/admin/v1/audit/verify"): _op(
        "Recompute the hash chains",
        P.VERIFY_AUDIT,
        query=Q.VerifyQuery,
        answers={200: C.ChainVerification},
        errors={404: "no checkpoint with that id"},
    ),
    ("GET", "/admin/v1/audit/checkpoints"): _op(
        "Signed checkpoints, newest first",
        P.VERIFY_AUDIT,
        query=Q.LimitQuery,
        answers={200: C.CheckpointList},
    ),
    ("GET", "/admin/v1/audit/events"): _op(
        "Audit events", P.READ_DECISIONS, query=Q.EventQuery, answers={200: C.EventPage}
    ),
    ("GET", "/admin/v1/holds"): _op("Held calls", P.READ_HOLDS, query=Q.HoldQuery, answers={200: S.HoldPage}),
    ("GET", "/admin/v1/holds/{hold_id}"): _op(
        "One hold, its history and its decision", P.READ_HOLDS, query=Q.UnmaskQuery, answers={200: S.Hold}
    ),
    ("POST", "/admin/v1/holds/{hold_id}/approve"): _op(
        "Approve a hold: the call is forwarded once (202 while the exchange has not answered)",
        P.REVIEW_HOLDS,
        body=ReviewNote,
        answers={200: S.Hold, 202: S.Hold},
        errors=_HOLD_DECIDED,
    ),
    ("POST", "/admin/v1/holds/{hold_id}/reject"): _op(
        "Reject a hold for good", P.REVIEW_HOLDS, body=ReviewNote, answers={200: S.Hold}, errors=_HOLD_DECIDED
    ),
    ("GET", "/admin/v1/reports"): _op(
        "Report candidates (CTR, STR)", P.READ_REPORTS, query=Q.ReportSearchQuery, answers={200: S.ReportPage}
    ),
    ("GET", "/admin/v1/reports/export"): _op(
        "Export report candidates (streamed)", P.EXPORT_REPORTS, query=Q.ReportExportQuery, export=S.ReportRow
    ),
    ("GET", "/admin/v1/reports/{report_id}"): _op(
        "One report candidate and its history", P.READ_REPORTS, query=Q.UnmaskQuery, answers={200: S.Report}
    ),
    ("PATCH", "/admin/v1/reports/{report_id}"): _op(
        "File or dismiss a report candidate, once",
        P.MANAGE_REPORTS,
        body=ReportChange,
        answers={200: S.Report},
        errors={409: "the report is no longer open"},
    ),
    ("GET", "/admin/v1/sanctions/snapshots"): _op(
        "Sanctions list snapshots, newest first",
        P.READ_SANCTIONS,
        query=Q.LimitQuery,
        answers={200: C.SnapshotList},
    ),
    ("POST", "/admin/v1/sanctions/snapshots"): _op(
        "Load a sanctions list snapshot (201 when it switches, 200 when unchanged)",
        P.MANAGE_SANCTIONS,
        body=SnapshotPayload,
        answers={201: C.SnapshotLoad, 200: C.SnapshotLoad},
    ),
    ("GET", "/admin/v1/sanctions/check"): _op(
        "Is an address listed in the snapshot in force",
        P.CHECK_SANCTIONS,
        query=Q.SanctionsCheckQuery,
        answers={200: C.SanctionsCheck},
        errors={503: "no sanctions list is loaded on this replica"},
    ),
    ("GET", "/admin/v1/openapi.json"): _op("This document", P.DESCRIBE_API, answers={200: C.OpenApiDocument}),
}


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
            "(gateway/admin/openapi.py).",
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


def _component_schemas() -> tuple[dict[tuple[Model, JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
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
    return dict(refs), dict(defs.get("$defs", {}))


def _operation(
    op: Operation, path: str, tag: str, operation_id: str, refs: Mapping[tuple[Model, JsonSchemaMode], Any]
) -> dict[str, Any]:
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


def _responses(op: Operation, path: str, refs: Mapping[tuple[Model, JsonSchemaMode], Any]) -> dict[str, Any]:
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


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """Every `…_id` in an admin path is a UUID (gateway/admin/requests.py path_uuid); the
    others (rule pack versions) are names."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string"},
        }
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
