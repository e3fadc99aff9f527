"""Who is asking, and which personal data they may see.

Every admin endpoint that returns personal data builds its answer through `viewer_for`,
so masking is decided once (gateway/audit/masking.py). `?unmask=<customer_id>` with a
`justification` lets a compliance officer see one customer's records in clear; the
access is written to the audit log before any data is read (gateway/audit/disclosure.py,
which the console's unmask form calls too), so an unmasking that cannot be logged does
not happen.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from cryptography.exceptions import InvalidTag

from gateway import appkeys as K
from gateway.audit.disclosure import JUSTIFICATION_CHARS as JUSTIFICATION_CHARS  # the admin edge bounds it
from gateway.audit.disclosure import BadJustification, UnmaskRefused, unmask
from gateway.audit.events import admin_actor
from gateway.audit.masking import Viewer
from gateway.http.admin.errors import AdminError, json_response
from gateway.http.admin.queries import invalid, query_uuid
from gateway.http.admin.requests import page_limit
from gateway.store.decisions import BadCursor

UNMASK_PARAMS = frozenset({"unmask", "justification"})
F = TypeVar("F")
# A store's keyset-paged listing: (connection, filter, limit, cursor) -> (rows, next cursor).
Search = Callable[
    [asyncpg.Connection, F, int, str | None], Awaitable[tuple[list[dict[str, Any]], str | None]]
]


def actor_of(request: web.Request, role: str) -> str:
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return admin_actor(role, token)


async def viewer_for(request: web.Request, role: str) -> Viewer:
    customer_id = query_uuid(request, "unmask")
    if customer_id is None:
        if "justification" in request.query:
            raise invalid("justification", "only with unmask")
        return Viewer(role)
    accessed = {k: v for k, v in request.query.items() if k not in UNMASK_PARAMS}
    try:
        unmasking = await unmask(
            request.app[K.POOL], request.app[K.AUDIT_EVENTS], request.app[K.METRICS],
            role=role, actor=actor_of(request, role), customer_id=customer_id,
            justification=request.query.get("justification", ""),
            details={"method": request.method, "endpoint": endpoint_of(request), "query": accessed},
        )  # fmt: skip
    except UnmaskRefused as exc:
        raise AdminError(403, "forbidden", str(exc)) from exc
    except BadJustification as exc:
        raise invalid("justification", str(exc)) from exc
    return unmasking.viewer


def endpoint_of(request: web.Request) -> str:
    """The route's template, not the path: a path can hold the customer's id in clear."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


async def page_answer(
    request: web.Request,
    role: str,
    search: Search[F],
    flt: F,
    resource: str,
    key: str,
    *,
    audit: bool = False,
) -> web.Response:
    """One page of a list endpoint, each row as this viewer may see it:
    `{key: [...], "next_cursor": ...}`. A cursor this API did not issue is a bad request.
    `audit`: a read of the audit record, answered by the read replica when one is set (it
    may lag); work queues that are acted on read the primary."""
    limit = page_limit(request)
    viewer = await viewer_for(request, role)
    pooled = request.app[K.AUDIT_READS].acquire() if audit else request.app[K.POOL].acquire()
    async with pooled as conn:
        try:
            rows, next_cursor = await search(conn, flt, limit, request.query.get("cursor"))
        except BadCursor as exc:
            raise invalid("cursor", str(exc)) from exc
    return json_response({key: [viewer.present(resource, r) for r in rows], "next_cursor": next_cursor})


_SEALED = "sealed:"
_PAGE_BINDING = "customers.after"


def page_token(request: web.Request, viewer: Viewer, reference: str | None) -> str | None:
    """The customers list pages by reference, which a masked viewer may not see: they get
    it sealed (AES-GCM with the gateway's key), usable as `after` but unreadable."""
    if reference is None or viewer.sees_clear(None):
        return reference
    sealed = request.app[K.SECRET_BOX].seal(reference, bound_to=_PAGE_BINDING)
    return _SEALED + base64.urlsafe_b64encode(sealed).decode()


def read_page_token(request: web.Request, role: str) -> str | None:
    """`after` as the list's query needs it: a reference. Only a role that sees references
    in clear may give one in plain text; everyone else pages with the sealed tokens
    `page_token` gave them. A plain `after` from a masked viewer would be an oracle: "is
    the hidden reference greater than X?" recovers it by binary search. Whether the list
    shows references in clear depends on the role alone (unmasking one customer does not
    unmask the list's order), so this is checked before any unmasking is logged."""
    raw = request.query.get("after")
    if raw is None:
        return None
    if not raw.startswith(_SEALED):
        if not Viewer(role).sees_clear(None):
            raise invalid("after", "not a page token this API issued")
        return raw
    try:
        sealed = base64.urlsafe_b64decode(raw.removeprefix(_SEALED).encode())
        return request.app[K.SECRET_BOX].open(sealed, bound_to=_PAGE_BINDING)
    except (ValueError, InvalidTag) as exc:
        raise invalid("after", "not a page token this API issued") from exc
