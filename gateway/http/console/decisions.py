"""Console: the decision log for auditors and officers. The search form takes every filter
of GET /admin/v1/decisions, read by the admin API's own readers (a bad value is a 400
page naming it), so a search is a URL that can be shared; rows come from the same store
query, masked by role with the same Viewer; exports stream through the admin export's
encoder (gateway/http/admin/exports.py)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from gateway import appkeys as K
from gateway.audit import streams
from gateway.audit.masking import Viewer
from gateway.http.admin.decisions import FILTERS, REVIEW_STATUSES, decision_filter
from gateway.http.admin.exports import export_format, stream_decisions
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import MAX_PAGE, page_limit, path_uuid
from gateway.http.console.errors import ConsoleError
from gateway.http.console.listing import console_problems, form_query, one_page, page_links
from gateway.http.console.render import render
from gateway.http.console.session import console_user
from gateway.roles import Permission
from gateway.store import decisions as store
from policy.action import ActionKind
from policy.decision import Outcome

routes = web.RouteTableDef()

_PAGING = frozenset({"limit", "cursor"})
# What a decision's page shows as the call's facts, as recorded (masked by the Viewer).
FACT_FIELDS = (
    "operation", "dialect", "http_method", "path", "symbol", "base_asset", "quote_asset", "asset", "side",
    "order_type", "quantity", "price", "notional", "notional_asset", "address", "network",
    "client_order_id", "country", "request_id", "api_key_id",
)  # fmt: skip
CHAIN_FIELDS = ("chain_id", "seq", "prev_hash", "entry_hash")
DECISION_CHOICES: dict[str, tuple[str, ...]] = {
    "outcome": tuple(o.value for o in Outcome),
    "action_kind": tuple(k.value for k in ActionKind),
    "review_status": REVIEW_STATUSES,
    "sort": ("desc", "asc"),
}


@routes.get("/console/decisions")
async def decision_search(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_DECISIONS)
    params = form_query(request)
    with console_problems():
        check_params(params, FILTERS | _PAGING)
        flt = decision_filter(params)
        limit = page_limit(params)
    async with request.app[K.AUDIT_READS].acquire() as conn:  # the read replica, if any
        page = await one_page(conn, store.search, flt, limit, params)
    links = page_links(user, params, "/console/decisions", page.next_cursor, Permission.EXPORT_DECISIONS)
    viewer = Viewer(user.role)
    return render(
        request, "decisions/list.html", user,
        decisions=[viewer.present("decision", row) for row in page.rows], filters=links.filters,
        choices=DECISION_CHOICES, max_page=MAX_PAGE, exports=links.exports, next_url=links.next_url,
    )  # fmt: skip


# Registered before /decisions/{decision_id}, which would otherwise take "export" for an id.
@routes.get("/console/decisions/export")
async def decision_export(request: web.Request) -> web.StreamResponse:
    user = await console_user(request, Permission.EXPORT_DECISIONS)
    params = form_query(request)
    with console_problems():
        check_params(params, FILTERS | {"format"})
        fmt = export_format(params)
        flt = decision_filter(params)
    return await stream_decisions(request, Viewer(user.role), flt, fmt)


@routes.get("/console/decisions/{decision_id}")
async def decision_page(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_DECISIONS)
    params = form_query(request)
    with console_problems():
        check_params(params, frozenset())
        decision_id = path_uuid(request, "decision_id")
    decision = await _decision(request, decision_id)
    shown = Viewer(user.role).present("decision", decision)
    return render(
        request, "decisions/detail.html", user, decision=shown, fact_fields=FACT_FIELDS,
        chain_fields=CHAIN_FIELDS, stream=streams.DECISIONS.name,
    )  # fmt: skip


async def _decision(request: web.Request, decision_id: uuid.UUID) -> dict[str, Any]:
    async with request.app[K.AUDIT_READS].acquire() as conn:
        decision = await store.get(conn, decision_id)
    if decision is None:
        raise ConsoleError(404, "Not found", "No decision with that id.")
    return decision
