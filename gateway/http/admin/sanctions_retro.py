"""Admin: retro-screening scans (gateway/sanctions/retro/) — their progress and their hits.

GET /admin/v1/sanctions/retro-scans               newest first (`limit`)
GET /admin/v1/sanctions/retro-scans/{scan_id}     progress, and the hits with their STR ids

Whoever reads sanctions snapshots reads scans; the hits name customers and addresses, so
they are listed only to roles that read reports, masked as reports are.
"""

from __future__ import annotations

from aiohttp import web

from gateway import appkeys as K
from gateway.audit.masking import Viewer
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import check_params
from gateway.http.admin.requests import page_limit, path_uuid, require
from gateway.roles import Permission
from gateway.sanctions.retro import store

routes = web.RouteTableDef()
_LIMIT = frozenset({"limit"})


@routes.get("/admin/v1/sanctions/retro-scans")
async def list_scans(request: web.Request) -> web.Response:
    require(request, Permission.READ_SANCTIONS)
    check_params(request, _LIMIT)
    limit = page_limit(request)
    async with request.app[K.POOL].acquire() as conn:
        scans = await store.list_scans(conn, limit)
    return json_response({"scans": [s.as_json() for s in scans]})


@routes.get("/admin/v1/sanctions/retro-scans/{scan_id}")
async def one_scan(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_SANCTIONS)
    check_params(request, _LIMIT)
    scan_id = path_uuid(request, "scan_id")
    limit = page_limit(request)
    sees_hits = request.app[K.ADMIN_TOKENS].allows(role, Permission.READ_REPORTS)
    async with request.app[K.POOL].acquire() as conn:
        scan = await store.get_scan(conn, scan_id)
        if scan is None:
            raise AdminError(404, "not_found", "No retro-screening scan with that id.")
        in_window = await store.window_size(conn, scan)
        hits = await store.hits_of(conn, scan_id, limit) if sees_hits else None
    viewer = Viewer(role)
    return json_response(
        {
            **scan.as_json(),
            "movements_in_window": in_window,
            # A hit is about a movement's decision: masked as the decision's fields are.
            "hit_list": None if hits is None else [viewer.present("decision", h) for h in hits],
        }
    )
