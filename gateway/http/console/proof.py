"""Console: the proof an auditor asks for. Chain verification (run on demand), the signed
checkpoints, the sanctions snapshot in force and its history, the rule packs in force with
a diff between versions, and a what-if replay of a range under another pack.

Each section needs the permission of the admin endpoint it mirrors and calls what that
endpoint calls: verify_log with the checkpoint key (gateway/http/admin/audit.py), the
sanctions store, stored_book / rules.book.diff (gateway/http/admin/rule_packs.py) and
gateway/decide/replay.py, bounded as the admin API bounds it. Verification and replay
change nothing and store nothing, so their POSTs answer with the page and its result
(there is nothing to redirect to); a form that cannot be run is a 422 page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway import appkeys as K
from gateway.audit.checkpoint import verify_log
from gateway.audit.checkpointing import observe
from gateway.decide.replay import UnknownVersion, replay
from gateway.feeds.rulestate import stored_book, stored_versions
from gateway.http.admin.audit import checkpoint_key
from gateway.http.admin.exports import audit_connection
from gateway.http.console.csrf import form_of
from gateway.http.console.errors import ConsoleError, ConsoleForbidden, bad_input
from gateway.http.console.render import render
from gateway.http.console.session import ConsoleUser, console_user
from gateway.roles import Permission
from gateway.sanctions.service import SanctionsUnavailable
from gateway.store import audit_events as audit_store
from gateway.store import sanctions as sanctions_store
from rules.book import RuleBook, diff
from rules.loader import PackError

routes = web.RouteTableDef()

CHECKPOINTS_LISTED = 20
SNAPSHOTS_LISTED = 20
REPLAY_LISTED = 100  # changed decisions listed, as the admin API's replay lists by default
# Each section of the page and what it needs (the admin endpoints' permissions).
_SECTIONS = (Permission.VERIFY_AUDIT, Permission.READ_SANCTIONS, Permission.READ_RULES)
_VERSION_CHARS = 200


async def _proof_user(request: web.Request) -> ConsoleUser:
    user = await console_user(request)
    if not any(user.can(p) for p in _SECTIONS):
        raise ConsoleForbidden()
    return user


def _can_replay(user: ConsoleUser) -> bool:
    """Replayed decisions are decision data: the role must read rules and decisions."""
    return user.can(Permission.READ_RULES) and user.can(Permission.READ_DECISIONS)


@routes.get("/console/proof")
async def proof_page(request: web.Request) -> web.Response:
    return await _proof_answer(request, await _proof_user(request))


@routes.post("/console/proof/verify")
async def run_verification(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.VERIFY_AUDIT)
    async with audit_connection(request.app) as conn:  # the read replica, if one is set
        result = await verify_log(conn, checkpoint_key(request.app))
    observe(request.app[K.METRICS], result)
    return await _proof_answer(request, user, verification=result.as_json())


@routes.get("/console/proof/rule-packs/diff")
async def pack_diff(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_RULES)
    old_version, new_version = _version(request, "from"), _version(request, "to")
    async with request.app[K.POOL].acquire() as conn:
        old = await _book(conn, request, old_version)
        new = await _book(conn, request, new_version)
    return render(
        request, "proof/diff.html", user,
        old=old.version, new=new.version, diff=diff(old.all_rules(), new.all_rules()),
    )  # fmt: skip


def _version(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value or len(value) > _VERSION_CHARS:
        raise bad_input(f"Choose a rule-pack version to compare ({name}).")
    return value


async def _book(conn: Any, request: web.Request, version: str) -> RuleBook:
    try:
        book = await stored_book(conn, request.app[K.RULES].book, version)
    except PackError as exc:
        raise ConsoleError(
            409, "Pack no longer valid", f"Rule pack version {version} no longer validates."
        ) from exc
    if book is None:
        raise ConsoleError(
            404, "No such rule pack", f"No rule pack version {version} was ever in force here."
        )
    return book


@routes.post("/console/proof/replay")
async def what_if(request: web.Request) -> web.Response:
    user = await console_user(request, Permission.READ_RULES)
    if not _can_replay(user):
        raise ConsoleForbidden("Your role may not read decisions, which a replay lists.")
    form = await form_of(request)
    asked = {name: str(form.get(name, "")).strip() for name in ("version", "since", "until")}
    try:
        since, until = _moment(asked["since"], "since"), _moment(asked["until"], "until")
        if since >= until:
            raise _ReplayProblem("until", "Until must be later than since.")
        async with audit_connection(request.app) as conn:
            try:
                report = await replay(
                    conn,
                    asked["version"],
                    since,
                    until,
                    settings=request.app[K.SETTINGS],
                    limit=REPLAY_LISTED,
                )
            except UnknownVersion as exc:
                raise _ReplayProblem(
                    "version", "No rule pack of that version was ever in force here."
                ) from exc
    except _ReplayProblem as exc:
        problem = {"field": exc.field, "message": exc.message}
        return await _proof_answer(request, user, status=422, replay_form=asked, problem=problem)
    except PackError:
        problem = {
            "field": "version",
            "message": "That rule pack no longer validates; it cannot be replayed.",
        }
        return await _proof_answer(request, user, status=409, replay_form=asked, problem=problem)
    return await _proof_answer(request, user, replay_form=asked, replay=report.as_json())


class _ReplayProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _moment(text: str, field: str) -> datetime:
    """A form's date and time, in UTC: the browser's `datetime-local` (no offset: UTC, as
    the page says) or ISO 8601 with an offset."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset past year 9999
        raise _ReplayProblem(field, "A date and time such as 2026-01-31T09:30 (UTC).") from exc


async def _proof_answer(
    request: web.Request, user: ConsoleUser, *, status: int = 200, **extra: Any
) -> web.Response:
    """The proof page with the sections `user` may see; `extra` carries a result or a problem."""
    app = request.app
    sections: dict[str, Any] = {"checkpoints": None, "sanctions": None, "rules": None}
    async with app[K.POOL].acquire() as conn:
        if user.can(Permission.VERIFY_AUDIT):
            sections["checkpoints"] = await audit_store.checkpoints(conn, CHECKPOINTS_LISTED)
        if user.can(Permission.READ_SANCTIONS):
            sections["sanctions"] = await _sanctions(request, conn)
        if user.can(Permission.READ_RULES):
            sections["rules"] = _rules(request, await stored_versions(conn))
    return render(
        request, "proof/page.html", user, status=status, **sections,
        can_verify=user.can(Permission.VERIFY_AUDIT), can_replay=_can_replay(user),
        replay_limit=REPLAY_LISTED, replay_max=app[K.SETTINGS].replay_max_decisions,
        **{"verification": None, "replay": None, "replay_form": None, "problem": None, **extra},
    )  # fmt: skip


async def _sanctions(request: web.Request, conn: Any) -> dict[str, Any]:
    snapshots = await sanctions_store.list_snapshots(conn, SNAPSHOTS_LISTED)
    current = await sanctions_store.current_id(conn)
    try:
        in_force: str | None = request.app[K.SANCTIONS].current.snapshot_id
    except SanctionsUnavailable:
        in_force = None
    return {
        "current": await sanctions_store.get_snapshot(conn, current) if current else None,
        "current_id": current,
        # What this replica screens with: differs from `current` until its next refresh.
        "in_force_here": in_force,
        "history": snapshots,
    }


def _rules(request: web.Request, versions: list[dict[str, Any]]) -> dict[str, Any]:
    book, settings = request.app[K.RULES].book, request.app[K.SETTINGS]
    return {
        "active": book.version,
        "home_country": settings.home_country,
        "as_of": settings.rules_as_of,
        "licences_held": sorted(settings.licences_held),
        "packs": [
            {"country": country, "name": pack.name, "currency": pack.currency, "rules": len(pack.rules)}
            for country, pack in sorted(book.packs.items())
        ],
        "versions": versions,
    }
