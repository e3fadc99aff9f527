"""Console: STR/CTR report candidates. Listed with the admin API's filters and readers,
each shown with why it opened (its rules, details and the decisions it names) and its
history; an officer files or dismisses an open one with a note through the same function
and validation as PATCH /admin/v1/reports/{id} (exactly once; the second is told who
was first); exports stream through the admin export's encoder."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway import appkeys as K
from gateway.audit.masking import Viewer
from gateway.http.admin.exports import export_format
from gateway.http.admin.queries import check_params, query_choice
from gateway.http.admin.reports import (
    REPORT_FILTERS,
    REPORT_STATUSES,
    ReportChange,
    decide_report,
    report_filter,
    stream_reports,
)
from gateway.http.admin.requests import MAX_PAGE, page_limit, path_uuid
from gateway.http.console.csrf import form_of
from gateway.http.console.errors import ConsoleError
from gateway.http.console.listing import console_problems, form_query, one_page, page_links
from gateway.http.console.render import iso_utc, render
from gateway.http.console.session import ConsoleUser, console_user
from gateway.review import queries
from gateway.review.store import REPORT_KINDS
from gateway.roles import Permission

routes = web.RouteTableDef()

_PAGING = frozenset({"limit", "cursor"})
REPORT_CHOICES: dict[str, tuple[str, ...]] = {"kind": REPORT_KINDS, "status": REPORT_STATUSES}
# The line shown after a change (post/redirect/get): a fixed vocabulary, so the URL
# cannot put words on the page.
RESULTS = {
    "filed": "Filed: the report is recorded as filed, with your note.",
    "dismissed": "Dismissed: the report is recorded as dismissed, with your note.",
}
_DECISIONS = (("filed", "File"), ("dismissed", "Dismiss"))


@routes.get("/console/reports")
async def report_search(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_REPORTS)
    params = form_query(request)
    with console_problems():
        check_params(params, REPORT_FILTERS | _PAGING)
        flt = report_filter(params)
        limit = page_limit(params)
    async with request.app[K.POOL].acquire() as conn:  # a work queue: the primary, as the API reads it
        page = await one_page(conn, queries.list_reports, flt, limit, params)
    links = page_links(user, params, "/console/reports", page.next_cursor, Permission.EXPORT_REPORTS)
    viewer = Viewer(user.role)
    return render(
        request, "reports/list.html", user,
        reports=[viewer.present("report", row) for row in page.rows], filters=links.filters,
        choices=REPORT_CHOICES, max_page=MAX_PAGE, exports=links.exports, next_url=links.next_url,
    )  # fmt: skip


# Registered before /reports/{report_id}, which would otherwise take "export" for an id.
@routes.get("/console/reports/export")
async def report_export(request: web.Request) -> web.StreamResponse:
    user = await console_user(request, Permission.EXPORT_REPORTS)
    params = form_query(request)
    with console_problems():
        check_params(params, REPORT_FILTERS | {"format"})
        fmt = export_format(params)
        flt = report_filter(params)
    return await stream_reports(request, Viewer(user.role), flt, fmt)


@routes.get("/console/reports/{report_id}")
async def report_page(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_REPORTS)
    params = form_query(request)
    with console_problems():
        check_params(params, frozenset({"result"}))
        result = query_choice(params, "result", RESULTS)
        report_id = path_uuid(request, "report_id")
    report = await _report(request, report_id)
    return _detail(request, user, report, result=RESULTS[result] if result else None)


@routes.post("/console/reports/{report_id}")
async def report_decision(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.MANAGE_REPORTS)
    with console_problems():
        report_id = path_uuid(request, "report_id")
    form = await form_of(request)
    fields = {name: form[name] for name in ("status", "note") if name in form}
    try:
        change = ReportChange.model_validate(fields)
    except ValidationError as exc:
        # The form again, with the problem and the note as typed (the API's 422).
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())
        report = await _report(request, report_id)
        return _detail(request, user, report, problem=problems, note=fields.get("note", ""), status=422)
    changed, decided = await decide_report(
        request.app[K.POOL], request.app[K.AUDIT_EVENTS], report_id, change, user.actor
    )
    if decided is None:
        raise ConsoleError(404, "Not found", "No report with that id.")
    if not changed:
        raise ConsoleError(
            409, "Already decided",
            f"The report is {decided['status']}, not open: {decided['reviewed_by']} decided it "
            f"at {iso_utc(decided['reviewed_at'])}. Nothing was changed.",
        )  # fmt: skip
    raise web.HTTPSeeOther(f"/console/reports/{report_id}?result={change.status}")


async def _report(request: web.Request, report_id: uuid.UUID) -> dict[str, Any]:
    async with request.app[K.POOL].acquire() as conn:
        report = await queries.get_report(conn, report_id)
    if report is None:
        raise ConsoleError(404, "Not found", "No report with that id.")
    return report


def _detail(
    request: web.Request, user: ConsoleUser, report: dict[str, Any], *, status: int = 200, **context: Any
) -> web.Response:
    shown = Viewer(user.role).present("report", report)
    context = {"result": None, "problem": None, "note": "", **context}
    return render(
        request, "reports/detail.html", user, status=status, report=shown, decisions=_DECISIONS,
        can_manage=user.can(Permission.MANAGE_REPORTS),
        can_read_decisions=user.can(Permission.READ_DECISIONS), **context,
    )  # fmt: skip
