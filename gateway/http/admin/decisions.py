"""Admin: the decision log for auditors: every filter, sorted by time, cursor pagination,
personal data masked by role (gateway/http/admin/disclosure.py)."""

from __future__ import annotations

from aiohttp import web

from gateway import appkeys as K
from gateway.http.admin.disclosure import UNMASK_PARAMS, page_answer, viewer_for
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.exports import export_format, stream_decisions
from gateway.http.admin.queries import (
    QuerySource,
    check_params,
    invalid,
    query_amount,
    query_choice,
    query_pattern,
    query_uuid,
    time_range,
)
from gateway.http.admin.requests import path_uuid, require
from gateway.roles import Permission
from gateway.store import decisions as store
from policy.action import ActionKind
from policy.decision import Outcome

routes = web.RouteTableDef()

FILTERS = frozenset(
    {"customer_id", "outcome", "action_kind", "reason", "rule_id", "country", "asset", "notional_min",
     "notional_max", "review_status", "since", "until", "sort"}
)  # fmt: skip
_PAGING = frozenset({"limit", "cursor"})
REVIEW_STATUSES = ("pending", "approved", "rejected", "expired")
_CODE = r"[a-z0-9_.:-]{1,200}"


def decision_filter(request: QuerySource) -> store.DecisionFilter:
    """The filters of a search or an export, validated (unknown parameters refused by the caller)."""
    since, until = time_range(request)
    low, high = query_amount(request, "notional_min"), query_amount(request, "notional_max")
    if low is not None and high is not None and low > high:
        raise invalid("notional_max", "must not be below notional_min")
    return store.DecisionFilter(
        customer_id=query_uuid(request, "customer_id"),
        outcome=query_choice(request, "outcome", (o.value for o in Outcome)),
        action_kind=query_choice(request, "action_kind", (k.value for k in ActionKind)),
        reason=query_pattern(request, "reason", _CODE, "a reason code such as unknown_symbol"),
        rule_id=query_pattern(request, "rule_id", _CODE, "a rule id such as core.instrument.unknown_symbol"),
        country=query_pattern(request, "country", r"[A-Z]{2}(-[A-Z0-9]{1,3})?", "a code such as KR or US-NY"),
        asset=query_pattern(request, "asset", r"[A-Z0-9]{1,20}", "an asset such as BTC"),
        notional_min=low,
        notional_max=high,
        review_status=query_choice(request, "review_status", REVIEW_STATUSES),
        since=since,
        until=until,
        sort="asc" if query_choice(request, "sort", ("desc", "asc")) == "asc" else "desc",
    )


@routes.get("/admin/v1/decisions")
async def list_decisions(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_DECISIONS)
    check_params(request, FILTERS | _PAGING | UNMASK_PARAMS)
    flt = decision_filter(request)
    return await page_answer(request, role, store.search, flt, "decision", "decisions", audit=True)


# Registered before /decisions/{decision_id}, which would otherwise take "export" for an id.
@routes.get("/admin/v1/decisions/export")
async def export_decisions(request: web.Request) -> web.StreamResponse:
    role = require(request, Permission.EXPORT_DECISIONS)
    check_params(request, FILTERS | UNMASK_PARAMS | {"format"})
    fmt = export_format(request)
    flt = decision_filter(request)
    viewer = await viewer_for(request, role)
    return await stream_decisions(request, viewer, flt, fmt)


@routes.get("/admin/v1/decisions/{decision_id}")
async def get_decision(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_DECISIONS)
    check_params(request, UNMASK_PARAMS)
    decision_id = path_uuid(request, "decision_id")
    viewer = await viewer_for(request, role)
    async with request.app[K.AUDIT_READS].acquire() as conn:  # the read replica, if any
        decision = await store.get(conn, decision_id)
    if decision is None:
        raise AdminError(404, "not_found", "No decision with that id.")
    return json_response(viewer.present("decision", decision))
