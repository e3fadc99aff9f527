"""Admin: the hold-and-review queue. Compliance officers approve (the call is then
forwarded exactly once; gateway/review/forwarder.py) or reject (refused for good), with a
note; auditors read. Personal data masked by role, as everywhere."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway import appkeys as K
from gateway.audit.masking import Viewer
from gateway.http.admin.disclosure import UNMASK_PARAMS, actor_of, page_answer, viewer_for
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params, query_choice, query_uuid
from gateway.http.admin.requests import path_uuid, read_json, require
from gateway.review import queries
from gateway.review.forwarder import ApprovalStep, HoldExpired, SameOfficer
from gateway.review.queue import Conflict, NotFound
from gateway.roles import Permission
from gateway.store import decisions as decision_store

routes = web.RouteTableDef()

# "credited": a held deposit an officer approved (it had arrived; nothing is forwarded).
HOLD_STATES = ("pending", "forwarding", "forwarded", "forward_failed", "rejected", "expired", "credited")
NOTE_MAX = 1000
_FILTERS = frozenset({"state", "customer_id", "limit", "cursor"})


class ReviewNote(BaseModel):
    """Why the reviewer decided so: required, it is what an examiner reads later."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=NOTE_MAX)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, note: str) -> str:
        if not note.strip():
            raise ValueError("a note is required")
        return note.strip()


@routes.get("/admin/v1/holds")
async def list_holds(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_HOLDS)
    check_params(request, _FILTERS | UNMASK_PARAMS)
    flt = queries.HoldFilter(
        state=query_choice(request, "state", HOLD_STATES), customer_id=query_uuid(request, "customer_id")
    )
    return await page_answer(request, role, queries.list_holds, flt, "hold", "holds")


async def _hold_answer(request: web.Request, viewer: Viewer, status: int = 200) -> web.Response:
    hold_id = path_uuid(request, "hold_id")
    async with request.app[K.POOL].acquire() as conn:
        hold = await queries.get_hold(conn, hold_id)
        if hold is None:
            raise AdminError(404, "not_found", "No hold with that id.")
        decision = await decision_store.get(conn, hold_id)
    shown = viewer.present("hold", hold)
    shown["decision"] = viewer.present("decision", decision) if decision is not None else None
    return json_response(shown, status)


@routes.get("/admin/v1/holds/{hold_id}")
async def get_hold(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_HOLDS)
    check_params(request, UNMASK_PARAMS)
    path_uuid(request, "hold_id")
    return await _hold_answer(request, await viewer_for(request, role))


def _refusal(exc: Exception) -> AdminError:
    if isinstance(exc, NotFound):
        return AdminError(404, "not_found", "No hold with that id.")
    if isinstance(exc, SameOfficer):
        return AdminError(409, "conflict", str(exc), [{"field": "actor", "problem": "approved_already"}])
    if isinstance(exc, HoldExpired):
        return AdminError(409, "conflict", str(exc), [{"field": "state", "problem": "expired"}])
    assert isinstance(exc, Conflict)
    return AdminError(409, "conflict", str(exc), [{"field": "state", "problem": exc.state}])


@routes.post("/admin/v1/holds/{hold_id}/approve")
async def approve(request: web.Request) -> web.Response:
    """200 with the hold once it is settled (forwarded, forward_failed, credited); 202 while
    it is not: the exchange has not answered (the sweep keeps trying, with the same key),
    or, under dual control, this was the first approval and a second officer must approve."""
    role = require(request, Permission.REVIEW_HOLDS)
    check_params(request, frozenset())
    hold_id = path_uuid(request, "hold_id")
    body = await read_json(request, ReviewNote)
    try:
        outcome = await request.app[K.REVIEW].approve(hold_id, actor_of(request, role), body.note)
    except (NotFound, Conflict) as exc:
        raise _refusal(exc) from exc
    unsettled = outcome.step in (ApprovalStep.FIRST_APPROVAL_RECORDED, ApprovalStep.FORWARDING)
    return await _hold_answer(request, Viewer(role), 202 if unsettled else 200)


@routes.post("/admin/v1/holds/{hold_id}/reject")
async def reject(request: web.Request) -> web.Response:
    role = require(request, Permission.REVIEW_HOLDS)
    check_params(request, frozenset())
    hold_id = path_uuid(request, "hold_id")
    body = await read_json(request, ReviewNote)
    try:
        await request.app[K.REVIEW].reject(hold_id, actor_of(request, role), body.note)
    except (NotFound, Conflict) as exc:
        raise _refusal(exc) from exc
    return await _hold_answer(request, Viewer(role))
