"""Admin: report candidates (CTR/STR) opened by the policy's findings. A compliance
officer files or dismisses each with a note (history kept, audit event written); auditors
read and export. Exports stream in constant memory, as decision exports do."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway import appkeys as K
from gateway.audit.events import EventLog
from gateway.audit.masking import Viewer
from gateway.http.admin.disclosure import UNMASK_PARAMS, actor_of, page_answer, viewer_for
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.exports import export_format, stream_rows
from gateway.http.admin.queries import QuerySource, check_params, query_choice, query_uuid, time_range
from gateway.http.admin.requests import path_uuid, read_json, require
from gateway.review import queries, queue
from gateway.review.store import REPORT_KINDS
from gateway.roles import Permission

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

REPORT_STATUSES = ("open", "filed", "dismissed")
REPORT_FILTERS = frozenset({"kind", "status", "customer_id", "since", "until"})
_PAGING = frozenset({"limit", "cursor"})
_BATCH_ROWS = 500


class ReportChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["filed", "dismissed"]
    note: str = Field(min_length=1, max_length=1000)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, note: str) -> str:
        if not note.strip():
            raise ValueError("a note is required")
        return note.strip()


async def decide_report(
    pool: asyncpg.Pool, events: EventLog, report_id: uuid.UUID, change: ReportChange, actor: str
) -> tuple[bool, dict[str, Any] | None]:
    """File or dismiss an open report, once: whether this call changed it, and the report
    as it now stands (None: no such report). The admin API's PATCH and the console's form
    both come here, so "exactly once, with a note, history and audit event" is one rule."""
    async with pool.acquire() as conn:
        async with events.transaction(conn) as log:
            changed = await queue.change_report(conn, log, report_id, change.status, actor, change.note)
        report = await queries.get_report(conn, report_id)
    return changed, report


def report_filter(request: QuerySource) -> queries.ReportFilter:
    since, until = time_range(request)
    return queries.ReportFilter(
        kind=query_choice(request, "kind", REPORT_KINDS),
        status=query_choice(request, "status", REPORT_STATUSES),
        customer_id=query_uuid(request, "customer_id"),
        since=since,
        until=until,
    )


@routes.get("/admin/v1/reports")
async def list_reports(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_REPORTS)
    check_params(request, REPORT_FILTERS | _PAGING | UNMASK_PARAMS)
    flt = report_filter(request)
    return await page_answer(request, role, queries.list_reports, flt, "report", "reports")


# Registered before /reports/{report_id}, which would otherwise take "export" for an id.
@routes.get("/admin/v1/reports/export")
async def export_reports(request: web.Request) -> web.StreamResponse:
    role = require(request, Permission.EXPORT_REPORTS)
    check_params(request, REPORT_FILTERS | UNMASK_PARAMS | {"format"})
    fmt = export_format(request)
    flt = report_filter(request)
    viewer = await viewer_for(request, role)
    return await stream_reports(request, viewer, flt, fmt)


async def stream_reports(
    request: web.Request, viewer: Viewer, flt: queries.ReportFilter, fmt: str
) -> web.StreamResponse:
    return await stream_rows(
        request, queries.report_export_query(flt), fmt, name="reports", fields=queries.REPORT_FIELDS,
        present=lambda r: viewer.present("report", queries.decoded_report(r)),
    )  # fmt: skip


@routes.get("/admin/v1/reports/{report_id}")
async def get_report(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_REPORTS)
    check_params(request, UNMASK_PARAMS)
    report_id = path_uuid(request, "report_id")
    viewer = await viewer_for(request, role)
    async with request.app[K.POOL].acquire() as conn:
        report = await queries.get_report(conn, report_id)
    if report is None:
        raise AdminError(404, "not_found", "No report with that id.")
    return json_response(viewer.present("report", report))


@routes.patch("/admin/v1/reports/{report_id}")
async def change_report(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_REPORTS)
    check_params(request, frozenset())
    report_id = path_uuid(request, "report_id")
    body = await read_json(request, ReportChange)
    actor = actor_of(request, role)
    changed, report = await decide_report(
        request.app[K.POOL], request.app[K.AUDIT_EVENTS], report_id, body, actor
    )
    if report is None:
        raise AdminError(404, "not_found", "No report with that id.")
    if not changed:
        raise AdminError(
            409, "conflict", f"The report is {report['status']}, not open.",
            [{"field": "status", "problem": report["status"]}],
        )  # fmt: skip
    return json_response(Viewer(role).present("report", report))
