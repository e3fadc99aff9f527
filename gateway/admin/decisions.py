"""Admin: the decision log for auditors (filters, cursor pagination, newest first)."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web

from gateway import appkeys as K
from gateway.admin.errors import AdminError, json_response
from gateway.admin.requests import page_limit, path_uuid, require
from gateway.admin.tokens import Permission
from gateway.store import decisions as store
from policy.action import ActionKind
from policy.decision import Outcome

routes = web.RouteTableDef()
_FILTERS = frozenset({"customer_id", "outcome", "action_kind", "reason", "since", "until", "limit", "cursor"})


def _invalid(field: str, problem: str) -> AdminError:
    return AdminError(
        422,
        "validation_failed",
        f"Invalid query parameter {field!r}.",
        [{"field": field, "problem": problem}],
    )


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise _invalid(name, "expected an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise _invalid(name, "the time needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
    return value


def _filter(request: web.Request) -> store.DecisionFilter:
    q = request.query
    unknown = sorted(set(q) - _FILTERS)
    if unknown:
        raise _invalid(unknown[0], "unknown filter")
    for name in q:
        if len(q.getall(name)) > 1:
            raise _invalid(name, "given more than once")
    customer_id = None
    if "customer_id" in q:
        try:
            customer_id = uuid.UUID(q["customer_id"])
        except ValueError as exc:
            raise _invalid("customer_id", "expected a UUID") from exc
    if "outcome" in q and q["outcome"] not in Outcome.__members__.values():
        raise _invalid("outcome", f"one of {', '.join(o.value for o in Outcome)}")
    if "action_kind" in q and q["action_kind"] not in ActionKind.__members__.values():
        raise _invalid("action_kind", f"one of {', '.join(k.value for k in ActionKind)}")
    return store.DecisionFilter(
        customer_id=customer_id,
        outcome=q.get("outcome"),
        action_kind=q.get("action_kind"),
        reason=q.get("reason"),
        since=_time(request, "since"),
        until=_time(request, "until"),
    )


@routes.get("/admin/v1/decisions")
async def list_decisions(request: web.Request) -> web.Response:
    require(request, Permission.READ_DECISIONS)
    flt = _filter(request)
    limit = page_limit(request)
    async with request.app[K.POOL].acquire() as conn:
        try:
            rows, next_cursor = await store.search(conn, flt, limit, request.query.get("cursor"))
        except store.BadCursor as exc:
            raise _invalid("cursor", str(exc)) from exc
    return json_response({"decisions": rows, "next_cursor": next_cursor})


@routes.get("/admin/v1/decisions/{decision_id}")
async def get_decision(request: web.Request) -> web.Response:
    require(request, Permission.READ_DECISIONS)
    decision_id = path_uuid(request, "decision_id")
    async with request.app[K.POOL].acquire() as conn:
        decision = await store.get(conn, decision_id)
    if decision is None:
        raise AdminError(404, "not_found", "No decision with that id.")
    return json_response(decision)
