"""Console: the review queue. Held calls oldest first (the longest wait is the most
urgent), one hold with everything a reviewer weighs, and approve / reject with a note.

Everything here goes through what the admin API's review endpoints use
(gateway/http/admin/review.py): the same queries, the same ReviewNote validation, the same
ReviewService moves (exactly once: its conditional UPDATEs decide which of two officers
wins), the same permissions and the same masking (gateway/audit/masking.Viewer).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from gateway import appkeys as K
from gateway.audit.masking import Viewer
from gateway.feeds.markets import utcnow
from gateway.http.admin.review import HOLD_STATES, NOTE_MAX, ReviewNote
from gateway.http.console.errors import ConsoleError
from gateway.http.console.listing import form_query, one_page
from gateway.http.console.render import render
from gateway.http.console.session import ConsoleUser, console_user
from gateway.review import queries
from gateway.review.forwarder import ApprovalStep
from gateway.review.queue import Conflict, NotFound
from gateway.roles import Permission
from gateway.store import decisions as decision_store
from gateway.store.db import connection
from policy.decision import Outcome
from rules.aml_stage import VALUATION_RULE
from rules.model import Direction, Window

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50  # holds per page of the queue
RECENT: Final = 20  # the customer's latest decisions and movements shown beside a hold
ANY_STATE: Final = "any"
DEFAULT_STATE: Final = "pending"  # the queue opens on what waits for a reviewer
STATE_CHOICES: Final = (*HOLD_STATES, ANY_STATE)
# The result line after a review, by code: a fixed vocabulary, so nothing a request
# carries is ever written back into the page.
RESULTS: Final = {
    "forwarded": "Approved and forwarded: the exchange accepted the withdrawal.",
    "forward_failed": "Approved and forwarded, but the exchange refused it: see its answer below.",
    "forwarding": "Approved; the exchange has not answered yet. The gateway keeps trying with the same key.",
    "first_approval": "Your approval is recorded. A second officer must approve before it is forwarded.",
    "rejected": "Rejected: the call will never be forwarded.",
    "credited": "Approved: the held deposit is credited to the customer.",
}
# What an approval did (ReviewService.approve's outcome) -> the result shown.
_APPROVED: Final = {
    ApprovalStep.FORWARDED: "forwarded", ApprovalStep.FORWARD_FAILED: "forward_failed",
    ApprovalStep.FORWARDING: "forwarding", ApprovalStep.CREDITED: "credited",
    ApprovalStep.FIRST_APPROVAL_RECORDED: "first_approval",
}  # fmt: skip
NOTE_PROBLEM: Final = f"A note is required: why you decided so, 1 to {NOTE_MAX} characters."


def _db(request: web.Request) -> AbstractAsyncContextManager[asyncpg.Connection]:
    return connection(request.app[K.POOL], request.app[K.SETTINGS].db_timeout_seconds)


def _hold_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["hold_id"])
    except ValueError:
        raise ConsoleError(404, "No such hold", "There is no hold with that id.") from None


def _held_by(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings that held the call (each with its rule, reason and citation); a report
    a rule asked for beside it is on the decision's full list, not here."""
    return [f for f in findings if f.get("outcome") == Outcome.HOLD]


def _valuation(findings: list[dict[str, Any]], home: str | None) -> list[dict[str, Any]]:
    """The amount's value in each currency the rules compared, as the decision recorded it,
    the home currency's first (the one dual control compares)."""
    for finding in findings:
        if finding.get("rule_id") == VALUATION_RULE:
            conversions = (finding.get("values") or {}).get("conversions") or []
            valued = [c for c in conversions if isinstance(c, dict) and "currency" in c and "value" in c]
            return sorted(valued, key=lambda c: c["currency"] != home)
    return []


def _approvals(hold: dict[str, Any]) -> str | None:
    """`1 of 2` while dual control waits for a second officer; None when one approval is
    enough (or the hold records no count)."""
    required, given = hold.get("approvals_required"), hold.get("approvals")
    if not isinstance(required, int) or required < 2 or given is None:
        return None
    count = len(given) if isinstance(given, list) else given
    return f"{count} of {required}" if isinstance(count, int) else None


def _approved_by(hold: dict[str, Any], actor: str) -> bool:
    """Whether this officer gave one of the hold's approvals: under four eyes a second one
    must come from someone else (the review core refuses it), so no Approve button."""
    given = hold.get("approvals")
    return isinstance(given, list) and any(isinstance(a, dict) and a.get("actor") == actor for a in given)


def _shown(viewer: Viewer, hold: dict[str, Any]) -> dict[str, Any]:
    shown = viewer.present("hold", hold)
    shown["held_by"] = _held_by(shown.get("findings") or [])
    shown["valuation"] = _valuation(shown.get("findings") or [], hold.get("home_currency"))
    shown["approvals_text"] = _approvals(hold)
    return shown


@routes.get("/console/review")
async def queue_page(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_HOLDS)
    state = request.query.get("state") or DEFAULT_STATE
    if state not in STATE_CHOICES:
        raise ConsoleError(400, "Unknown state", f"The state is one of: {', '.join(STATE_CHOICES)}.")
    params = form_query(request)
    flt = queries.HoldFilter(state=None if state == ANY_STATE else state, sort="asc")
    async with _db(request) as conn:
        page = await one_page(conn, queries.list_holds, flt, PAGE_SIZE, params)
    viewer = Viewer(user.role)
    return render(
        request, "review/list.html", user,
        holds=[_shown(viewer, h) for h in page.rows], state=state, states=STATE_CHOICES,
        next_cursor=page.next_cursor, first_page="cursor" not in params.query,
    )  # fmt: skip


@dataclass(frozen=True)
class ReviewForm:
    """What the approve / reject form shows: the note typed so far and what is wrong with it."""

    note: str = ""
    problem: str | None = None


async def _hold_view(
    request: web.Request, user: ConsoleUser, hold_id: uuid.UUID, form: ReviewForm, status: int = 200
) -> web.Response:
    result = request.query.get("result")
    if result is not None and result not in RESULTS:
        raise ConsoleError(400, "Unknown result", "That result is not one this console shows.")
    viewer = Viewer(user.role)
    async with _db(request) as conn:
        hold = await queries.get_hold(conn, hold_id)
        if hold is None:
            raise ConsoleError(404, "No such hold", "There is no hold with that id.")
        customer = uuid.UUID(hold["customer_id"])
        decision = await decision_store.get(conn, hold_id)
        recent = None
        if user.can(Permission.READ_DECISIONS):
            flt = decision_store.DecisionFilter(customer_id=customer)
            recent, _ = await decision_store.search(conn, flt, RECENT, None)
        moved = await queries.recent_movements(conn, customer, RECENT)
        valued = _valuation(hold["findings"], hold.get("home_currency"))
        currencies = tuple(dict.fromkeys(str(c["currency"]) for c in valued))
        sums = await queries.window_sums(conn, hold["customer_id"], utcnow(), currencies)
    return render(
        request, "review/detail.html", user, status=status,
        hold=_shown(viewer, hold),
        decision=viewer.present("decision", decision) if decision is not None else None,
        recent=[viewer.present("decision", d) for d in recent] if recent is not None else None,
        movements=moved, windows=_window_table(sums), result=RESULTS.get(result or ""),
        can_review=user.can(Permission.REVIEW_HOLDS) and hold["state"] == "pending",
        approved_already=_approved_by(hold, user.actor), form=form, note_max=NOTE_MAX,
    )  # fmt: skip


# Per currency: (window, its cells), a cell per direction.
WindowTable = list[tuple[str, list[tuple[str, list[queries.WindowSum]]]]]


def _window_table(sums: list[queries.WindowSum]) -> WindowTable:
    """Per currency, one row per window with a cell per direction (deposits, withdrawals, both)."""
    table: dict[str, dict[str, list[queries.WindowSum]]] = {}
    for one in sums:
        table.setdefault(one.total.currency, {w.value: [] for w in Window})[one.window.value].append(one)
    order = list(Direction)
    return [
        (currency, [(w, sorted(cells, key=lambda s: order.index(s.direction))) for w, cells in rows.items()])
        for currency, rows in table.items()
    ]


@routes.get("/console/review/{hold_id}")
async def hold_page(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_HOLDS)
    return await _hold_view(request, user, _hold_id(request), ReviewForm())


def _refusal(hold: dict[str, Any] | None, exc: Conflict) -> str:
    """Why a review changed nothing: the other officer's decision, or the expiry."""
    state = hold["state"] if hold is not None else exc.state
    by = (hold or {}).get("reviewed_by") or "another officer"
    why = {
        "forwarded": f"Already approved by {by} and forwarded to the exchange.",
        "forwarding": f"Already approved by {by}; the exchange has not answered yet.",
        "forward_failed": f"Already approved by {by} and forwarded; the exchange refused it.",
        "credited": f"Already approved by {by} and credited.",
        "rejected": f"Already rejected by {by}.",
        "expired": "The hold expired before it was reviewed.",
    }.get(state, str(exc))  # e.g. dual control refusing the same officer's second approval
    return f"{why} Your review was not applied; nothing changed."


async def _review(request: web.Request, verb: str) -> web.Response:
    user = await console_user(request, Permission.REVIEW_HOLDS)
    hold_id = _hold_id(request)
    raw = (await request.post()).get("note")
    typed = raw if isinstance(raw, str) else ""
    try:
        note = ReviewNote(note=typed).note
    except ValidationError:
        return await _hold_view(request, user, hold_id, ReviewForm(typed[:NOTE_MAX], NOTE_PROBLEM), 422)
    service = request.app[K.REVIEW]
    result = "rejected"
    try:
        if verb == "approve":
            result = _APPROVED[(await service.approve(hold_id, user.actor, note)).step]
        else:
            await service.reject(hold_id, user.actor, note)
    except NotFound:
        raise ConsoleError(404, "No such hold", "There is no hold with that id.") from None
    except Conflict as exc:  # HoldExpired and SameOfficer included
        async with _db(request) as conn:
            hold = await queries.get_hold(conn, hold_id)
        raise ConsoleError(409, "Already decided", _refusal(hold, exc)) from None
    raise web.HTTPSeeOther(f"/console/review/{hold_id}?result={result}")


@routes.post("/console/review/{hold_id}/approve")
async def approve(request: web.Request) -> web.Response:
    return await _review(request, "approve")


@routes.post("/console/review/{hold_id}/reject")
async def reject(request: web.Request) -> web.Response:
    return await _review(request, "reject")
