"""Admin: rule packs — list versions, show one, diff two, reload from disk, replay logged
decisions under a version."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from gateway import appkeys as K
from gateway.audit.events import EventKind
from gateway.decide.replay import UnknownVersion, replay
from gateway.feeds.rulestate import remember_version, stored_book, stored_versions
from gateway.http.admin.disclosure import actor_of
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.exports import audit_connection
from gateway.http.admin.queries import check_params, in_utc
from gateway.http.admin.requests import MAX_PAGE, read_json, require
from gateway.roles import Permission
from rules.book import RuleBook, diff
from rules.loader import PackError

routes = web.RouteTableDef()


async def _stored(request: web.Request, version: str) -> RuleBook:
    async with request.app[K.POOL].acquire() as conn:
        try:
            book = await stored_book(conn, request.app[K.RULES].book, version)
        except PackError as exc:
            raise _no_longer_valid(version, exc, "shown") from exc
    if book is None:
        raise AdminError(404, "not_found", f"No rule pack version {version!r}.")
    return book


@routes.get("/admin/v1/rule-packs")
async def list_packs(request: web.Request) -> web.Response:
    require(request, Permission.READ_RULES)
    check_params(request, frozenset())
    state = request.app[K.RULES]
    settings = request.app[K.SETTINGS]
    async with request.app[K.POOL].acquire() as conn:
        versions = await stored_versions(conn)
    return json_response(
        {
            "active": state.book.version,
            "home_country": settings.home_country,
            "as_of": settings.rules_as_of,
            "licences_held": sorted(settings.licences_held),
            "versions": versions,
        }
    )


@routes.get("/admin/v1/rule-packs/{version}")
async def show_pack(request: web.Request) -> web.Response:
    require(request, Permission.READ_RULES)
    check_params(request, frozenset())
    book = await _stored(request, request.match_info["version"])
    packs: dict[str, Any] = {country: pack.model_dump(mode="json") for country, pack in book.packs.items()}
    return json_response(
        {
            "version": book.version,
            "active": book.version == request.app[K.RULES].book.version,
            "packs": packs,
            "assets": {asset: cls.value for asset, cls in sorted(book.assets.items())},
        }
    )


@routes.get("/admin/v1/rule-packs/{version}/diff/{other}")
async def diff_packs(request: web.Request) -> web.Response:
    require(request, Permission.READ_RULES)
    check_params(request, frozenset())
    old = await _stored(request, request.match_info["version"])
    new = await _stored(request, request.match_info["other"])
    return json_response({"from": old.version, "to": new.version, **diff(old.all_rules(), new.all_rules())})


@routes.post("/admin/v1/rule-packs/reload")
async def reload_packs(request: web.Request) -> web.Response:
    """Load the files again; a pack that fails validation is refused and the running one stays."""
    role = require(request, Permission.MANAGE_RULES)
    check_params(request, frozenset())
    state = request.app[K.RULES]
    try:
        book = state.load()
    except PackError as exc:
        raise AdminError(
            422,
            "validation_failed",
            "The rule pack on disk is not valid; the running pack stays in force.",
            [{"file": exc.file, "problem": p} for p in exc.problems],
        ) from exc
    previous = state.book.version
    changed = book.version != previous
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        await remember_version(conn, book)
        if changed:
            # Which rules decided is part of the record: the switch is logged with who made it.
            await log.append(
                EventKind.RULE_PACK_SWITCHED, actor_of(request, role), subject_type="rule_pack",
                subject_id=book.version, details={"from": previous, "to": book.version},
            )  # fmt: skip
    state.switch(book)
    return json_response({"version": book.version, "previous": previous, "changed": changed})


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Annotated[AwareDatetime, AfterValidator(in_utc)]
    until: Annotated[AwareDatetime, AfterValidator(in_utc)]
    customer_id: uuid.UUID | None = None
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="most changed decisions listed")


@routes.post("/admin/v1/rule-packs/{version}/replay")
async def replay_decisions(request: web.Request) -> web.Response:
    """Decide the logged decisions of a range again under this version; nothing is written.
    Per-decision results are decision data, so the role must also read decisions."""
    role = require(request, Permission.READ_RULES)
    if not request.app[K.ADMIN_TOKENS].allows(role, Permission.READ_DECISIONS):
        raise AdminError(403, "forbidden", f"Role {role!r} may not {Permission.READ_DECISIONS.value}.")
    check_params(request, frozenset())
    body = await read_json(request, ReplayRequest)
    if body.since >= body.until:
        problem = [{"field": "until", "problem": "must be later than since"}]
        raise AdminError(422, "validation_failed", "The range is empty.", problem)
    version = request.match_info["version"]
    async with audit_connection(request.app) as conn:
        try:
            report = await replay(
                conn, version, body.since, body.until, settings=request.app[K.SETTINGS],
                customer_id=body.customer_id, limit=body.limit,
            )  # fmt: skip
        except UnknownVersion as exc:
            raise AdminError(404, "not_found", f"No rule pack version {version!r}.") from exc
        except PackError as exc:
            raise _no_longer_valid(version, exc, "replayed") from exc
    return json_response(report.as_json())


def _no_longer_valid(version: str, exc: PackError, what: str) -> AdminError:
    """A stored version this code's validator refuses (the rules' schema moved on)."""
    return AdminError(
        409, "conflict", f"Rule pack version {version!r} no longer validates; it cannot be {what}.",
        [{"file": exc.file, "problem": p} for p in exc.problems],
    )  # fmt: skip
