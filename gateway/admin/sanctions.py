"""Admin: sanctioned-address list snapshots — list them, load one, check an address.

A loaded snapshot is in force on this replica before the answer leaves, and on the others
within GATEWAY_SANCTIONS_REFRESH_SECONDS. The body of a load is the JSON shape of
gateway/sanctions_sources.py; a bad body stores nothing.
"""

from __future__ import annotations

from aiohttp import web

from aml.sanctions import MalformedAddress
from gateway import appkeys as K
from gateway.admin.disclosure import actor_of
from gateway.admin.errors import AdminError, json_response
from gateway.admin.queries import check_params, invalid
from gateway.admin.requests import page_limit, read_json_body, require
from gateway.admin.tokens import Permission
from gateway.sanctions import SanctionsSnapshot, SanctionsUnavailable, load_snapshot
from gateway.sanctions_sources import SnapshotError, snapshot_from_json
from gateway.store import sanctions as store

routes = web.RouteTableDef()
_LIST_PARAMS = frozenset({"limit"})
_CHECK_PARAMS = frozenset({"address", "network"})


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
        snapshot = snapshot_from_json(await read_json_body(request))
    except SnapshotError as exc:
        raise AdminError(422, "validation_failed", exc.message, exc.problems) from exc
    actor, events = actor_of(request, role), request.app[K.AUDIT_EVENTS]
    async with request.app[K.POOL].acquire() as conn:
        result = await load_snapshot(conn, snapshot, actor, events=events)
    # In force here at once; the other replicas follow at their next refresh.
    await request.app[K.SANCTIONS].refresh()
    return json_response(result.as_json(), status=201 if result.changed else 200)


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
