"""Admin: verify the chains (optionally a time range) against a checkpoint (the one
named, else the newest stored), list checkpoints, and read the audit events."""

from __future__ import annotations

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway import appkeys as K
from gateway.audit.checkpoint import stored_checkpoint, verify_log
from gateway.audit.checkpointing import observe
from gateway.audit.signing import CheckpointKey, CheckpointKeyMissing
from gateway.http.admin.disclosure import UNMASK_PARAMS, page_answer
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.exports import audit_connection
from gateway.http.admin.queries import check_params, invalid, query_pattern, query_uuid, time_range
from gateway.http.admin.requests import page_limit, require
from gateway.roles import Permission
from gateway.store import audit_events as store

routes = web.RouteTableDef()


def checkpoint_key(app: web.Application) -> Ed25519PublicKey | None:
    """The public key that checks checkpoints and the signed records of retention drops (the
    admin API's and the console's verification)."""
    try:
        return CheckpointKey(app[K.SETTINGS].audit_checkpoint_key.get_secret_value()).public
    except CheckpointKeyMissing:
        return None


@routes.get("/admin/v1/audit/verify")
async def verify_chains(request: web.Request) -> web.Response:
    require(request, Permission.VERIFY_AUDIT)
    check_params(request, frozenset({"since", "until", "checkpoint_id"}))
    since, until = time_range(request)
    checkpoint_id = query_uuid(request, "checkpoint_id")
    key = checkpoint_key(request.app)
    async with audit_connection(request.app) as conn:
        doc = None
        if checkpoint_id is not None:
            doc = await stored_checkpoint(conn, checkpoint_id)
            if doc is None:
                raise AdminError(404, "not_found", "No checkpoint with that id.")
            if key is None:
                raise invalid("checkpoint_id", "no checkpoint key is configured to check it with")
        result = await verify_log(conn, key, since=since, until=until, checkpoint=doc)
    if checkpoint_id is not None:
        result.checkpoint_id = str(checkpoint_id)
    observe(request.app[K.METRICS], result)
    return json_response(result.as_json())


@routes.get("/admin/v1/audit/checkpoints")
async def list_checkpoints(request: web.Request) -> web.Response:
    require(request, Permission.VERIFY_AUDIT)
    check_params(request, frozenset({"limit"}))
    async with request.app[K.POOL].acquire() as conn:
        rows = await store.checkpoints(conn, page_limit(request))
    return json_response({"checkpoints": rows})


@routes.get("/admin/v1/audit/events")
async def list_events(request: web.Request) -> web.Response:
    role = require(request, Permission.READ_DECISIONS)
    check_params(
        request,
        frozenset({"kind", "subject_type", "subject_id", "since", "until", "limit", "cursor"})
        | UNMASK_PARAMS,
    )
    since, until = time_range(request)
    flt = store.EventFilter(
        kind=query_pattern(request, "kind", r"[a-z_]+(\.[a-z_]+)+", "an event kind such as customer.changed"),
        subject_type=query_pattern(
            request, "subject_type", r"[a-z_]{1,40}", "a subject type such as customer"
        ),
        subject_id=query_pattern(request, "subject_id", r"[A-Za-z0-9-]{1,64}", "an id"),
        since=since,
        until=until,
    )
    return await page_answer(request, role, store.search, flt, "event", "events", audit=True)
