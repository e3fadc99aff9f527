"""Console: the decision log for auditors and officers. The search form takes every filter
of GET /admin/v1/decisions, read by the admin API's own readers (a bad value is a 400
page naming it), so a search is a URL that can be shared; rows come from the same store
query, masked by role with the same Viewer; exports stream through the admin export's
encoder (gateway/http/admin/exports.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway import appkeys as K
from gateway.audit import streams
from gateway.audit.exports import CONTENT_TYPES
from gateway.audit.masking import Viewer
from gateway.http.admin.decisions import FILTERS, REVIEW_STATUSES, decision_filter
from gateway.http.admin.errors import AdminError
from gateway.http.admin.exports import export_format, stream_decisions
from gateway.http.admin.queries import check_params, invalid
from gateway.http.admin.requests import MAX_PAGE, page_limit, path_uuid
from gateway.http.console.errors import ConsoleError
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


@dataclass(frozen=True)
class FormQuery:
    """A console GET form's query as the admin API's readers take it (QuerySource). A
    form sends every field, filled or not: an empty one is no filter, not a bad value."""

    query: Mapping[str, str]


def form_query(request: web.Request) -> FormQuery:
    """The filled-in parameters. How each is written (UTF-8, no control character,
    bounded, given once) the console's edge has checked (gateway/http/console/edge.py)."""
    return FormQuery({name: value for name, value in request.query.items() if value != ""})


@contextmanager
def console_problems() -> Iterator[None]:
    """An admin reader's refusal as the console's error page: a bad query value (the API's
    422) is a 400 naming the parameter and the problem; a 404 stays a 404."""
    try:
        yield
    except AdminError as exc:
        message = exc.message
        if isinstance(exc.details, list) and exc.details and isinstance(exc.details[0], dict):
            problem = exc.details[0]
            message = f"{exc.message} {problem.get('field', '')}: {problem.get('problem', '')}"
        status = 400 if exc.status == 422 else exc.status
        raise ConsoleError(status, "Bad request" if status == 400 else "Not found", message) from exc


def page_url(path: str, query: Mapping[str, str], **changes: str) -> str:
    """`path` with the current filters and `changes` (a cursor, a format) as its query."""
    params = {**query, **changes}
    return f"{path}?{urlencode(params)}" if params else path


@routes.get("/console/decisions")
async def decision_search(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_DECISIONS)
    params = form_query(request)
    with console_problems():
        check_params(params, FILTERS | _PAGING)
        flt = decision_filter(params)
        limit = page_limit(params)
    async with request.app[K.AUDIT_READS].acquire() as conn:  # the read replica, if any
        try:
            rows, next_cursor = await store.search(conn, flt, limit, params.query.get("cursor"))
        except store.BadCursor as exc:
            with console_problems():
                raise invalid("cursor", str(exc)) from exc
    viewer = Viewer(user.role)
    filters = {k: v for k, v in params.query.items() if k != "cursor"}
    exports = {}
    if user.can(Permission.EXPORT_DECISIONS):
        kept = {k: v for k, v in filters.items() if k != "limit"}
        exports = {fmt: page_url("/console/decisions/export", kept, format=fmt) for fmt in CONTENT_TYPES}
    return render(
        request, "decisions/list.html", user,
        decisions=[viewer.present("decision", row) for row in rows], filters=filters,
        choices=DECISION_CHOICES, max_page=MAX_PAGE, exports=exports,
        next_url=page_url("/console/decisions", filters, cursor=next_cursor) if next_cursor else None,
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
