"""Admin: sanctioned-address list snapshots — list them, load one, list the entries one
was loaded without, check an address.

A loaded snapshot is in force on this replica before the answer leaves, and on the others
within GATEWAY_SANCTIONS_REFRESH_SECONDS. The body of a load is the JSON shape of
gateway/sanctions/sources.py; a bad body stores nothing. A body whose entries are not all
valid addresses is a 422 listing every problem, unless it says `accept_partial`; a switch
past the delisting guard is a 409 with the counts, unless it says `confirm_delisting`.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from aml.sanctions import MalformedAddress
from gateway import appkeys as K
from gateway.http.admin.disclosure import actor_of
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params, invalid
from gateway.http.admin.requests import page_limit, read_json_body, require
from gateway.roles import Permission
from gateway.sanctions.retro.context import scan_after_load
from gateway.sanctions.service import (
    DelistingRefused,
    LoadOptions,
    SanctionsSnapshot,
    SanctionsUnavailable,
    load_snapshot,
)
from gateway.sanctions.sources import SnapshotError, check_source, parse_payload, problem_json
from gateway.store import sanctions as store

routes = web.RouteTableDef()
_LIST_PARAMS = frozenset({"limit"})
_CHECK_PARAMS = frozenset({"address", "network"})
_SNAPSHOT_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def _held(request: web.Request) -> SanctionsSnapshot:
    try:
        return request.app[K.SANCTIONS].current
    except SanctionsUnavailable as exc:
        message = "No sanctions list is loaded on this replica; addresses cannot be screened."
        raise AdminError(503, "sanctions_unavailable", message) from exc


@routes.get("/admin/v1/sanctions/snapshots")
async def list_snapshots(request: web.Request) -> web.Response:
    require(request, Permission.READ_SANCTIONS)
    check_params(request, _LIST_PARAMS)
    limit = page_limit(request)
    async with request.app[K.POOL].acquire() as conn:
        snapshots = await store.list_snapshots(conn, limit)
        current = await store.current_id(conn)
    sanctions = request.app[K.SANCTIONS]
    try:
        in_force: str | None = sanctions.current.snapshot_id
    except SanctionsUnavailable:
        in_force = None
    return json_response(
        {
            "current": current,
            # What this replica screens with: differs from `current` until its next refresh.
            "in_force_here": in_force,
            "snapshots": [s.as_json() for s in snapshots],
        }
    )


@routes.post("/admin/v1/sanctions/snapshots")
async def load(request: web.Request) -> web.Response:
    role = require(request, Permission.MANAGE_SANCTIONS)
    check_params(request, frozenset())
    try:
        payload = parse_payload(await read_json_body(request))
        snapshot = check_source(payload.source())
    except SnapshotError as exc:
        raise AdminError(422, "validation_failed", exc.message, exc.details) from exc
    actor, events = actor_of(request, role), request.app[K.AUDIT_EVENTS]
    options = LoadOptions(
        accept_partial=payload.accept_partial,
        confirm_delisting=payload.confirm_delisting,
        max_delist_ratio=request.app[K.SETTINGS].sanctions_max_delist_ratio,
    )
    try:
        async with request.app[K.POOL].acquire() as conn:
            result = await load_snapshot(conn, snapshot, actor, events=events, options=options)
    except SnapshotError as exc:  # entries not valid, and a partial list not accepted
        raise AdminError(422, "validation_failed", exc.message, exc.details) from exc
    except DelistingRefused as exc:
        raise AdminError(409, "conflict", str(exc), exc.counts) from exc
    # In force here at once; the other replicas follow at their next refresh.
    await request.app[K.SANCTIONS].refresh()
    body = {**result.as_json(), "retro_scan": await _scan_after_load(request.app)}  # gateway/sanctions/retro/
    return json_response(body, status=201 if result.changed else 200)


@routes.get("/admin/v1/sanctions/snapshots/{snapshot}/rejected")
async def rejected(request: web.Request) -> web.Response:
    """The entries a snapshot was loaded without (accept_partial), in source order."""
    require(request, Permission.READ_SANCTIONS)
    check_params(request, _LIST_PARAMS)
    limit = page_limit(request)
    snapshot_id = request.match_info["snapshot"]  # not `_id`: the edge takes those for UUIDs
    if not _SNAPSHOT_ID.match(snapshot_id):
        raise AdminError(404, "not_found", "No sanctions snapshot with that id.")
    async with request.app[K.POOL].acquire() as conn:
        info = await store.get_snapshot(conn, snapshot_id)
        if info is None:
            raise AdminError(404, "not_found", "No sanctions snapshot with that id.")
        entries = await store.rejections(conn, snapshot_id, limit)
    return json_response(
        {
            "snapshot_id": snapshot_id,
            "rejected_count": info.rejected_count,
            "rejected": [problem_json(p) for p in entries],
        }
    )


@routes.get("/admin/v1/sanctions/check")
async def check(request: web.Request) -> web.Response:
    require(request, Permission.CHECK_SANCTIONS)
    check_params(request, _CHECK_PARAMS)
    address = request.query.get("address", "")
    network = request.query.get("network") or None
    if not address:
        raise invalid("address", "required")
    snapshot = _held(request)
    try:
        match = snapshot.match(address, network)
    except MalformedAddress as exc:
        raise invalid("address", exc.reason) from exc
    body: dict[str, object] = {
        "address": address,
        "network": network,
        "listed": match is not None,
        "snapshot_id": snapshot.snapshot_id,
        "list": snapshot.list_name,
        "as_of": snapshot.as_of.isoformat(),
    }
    if match is not None:
        body.update(listed_as=list(match.listed_as), listed_for=list(match.assets), format=match.format.value)
    return json_response(body)


async def _scan_after_load(app: web.Application) -> dict[str, Any] | None:
    return await scan_after_load(app[K.POOL], app[K.RETRO], app[K.SETTINGS].db_timeout_seconds)
