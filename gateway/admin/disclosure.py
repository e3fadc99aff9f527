"""Who is asking, and which personal data they may see.

Every admin endpoint that returns personal data builds its answer through `viewer_for`,
so masking is decided once (gateway/audit/masking.py). `?unmask=<customer_id>` with a
`justification` lets a compliance officer see one customer's records in clear; the
access is written to the audit log before any data is read, so an unmasking that cannot
be logged does not happen.
"""

from __future__ import annotations

import base64

from aiohttp import web
from cryptography.exceptions import InvalidTag

from gateway import appkeys as K
from gateway.admin.errors import AdminError
from gateway.admin.queries import invalid, query_uuid
from gateway.admin.tokens import Permission
from gateway.audit.events import EventKind, admin_actor
from gateway.audit.masking import Viewer

UNMASK_PARAMS = frozenset({"unmask", "justification"})
_JUSTIFICATION = (10, 500)


def actor_of(request: web.Request, role: str) -> str:
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return admin_actor(role, token)


async def viewer_for(request: web.Request, role: str) -> Viewer:
    customer_id = query_uuid(request, "unmask")
    if customer_id is None:
        if "justification" in request.query:
            raise invalid("justification", "only with unmask")
        return Viewer(role)
    if not request.app[K.ADMIN_TOKENS].allows(role, Permission.UNMASK_PERSONAL_DATA):
        raise AdminError(403, "forbidden", f"Role {role!r} may not {Permission.UNMASK_PERSONAL_DATA.value}.")
    justification = request.query.get("justification", "").strip()
    low, high = _JUSTIFICATION
    if not low <= len(justification) <= high:
        raise invalid("justification", f"why the personal data is needed, {low} to {high} characters")
    accessed = {k: v for k, v in request.query.items() if k not in UNMASK_PARAMS}
    # The route's template, not the path: a path can hold the customer's id in clear.
    resource = request.match_info.route.resource
    endpoint = resource.canonical if resource is not None else request.path
    async with request.app[K.POOL].acquire() as conn, request.app[K.AUDIT_EVENTS].transaction(conn) as log:
        await log.append(
            EventKind.PERSONAL_DATA_UNMASKED, actor_of(request, role),
            subject_type="customer", subject_id=str(customer_id), reason=justification,
            details={"method": request.method, "endpoint": endpoint, "query": accessed},
        )  # fmt: skip
    request.app[K.METRICS].audit_unmasked.inc()
    return Viewer(role, customer_id)


_SEALED = "sealed:"
_PAGE_BINDING = "customers.after"


def page_token(request: web.Request, viewer: Viewer, reference: str | None) -> str | None:
    """The customers list pages by reference, which a masked viewer may not see: they get
    it sealed (AES-GCM with the gateway's key), usable as `after` but unreadable."""
    if reference is None or viewer.sees_clear(None):
        return reference
    sealed = request.app[K.SECRET_BOX].seal(reference, bound_to=_PAGE_BINDING)
    return _SEALED + base64.urlsafe_b64encode(sealed).decode()


def read_page_token(request: web.Request) -> str | None:
    raw = request.query.get("after")
    if raw is None or not raw.startswith(_SEALED):
        return raw
    try:
        sealed = base64.urlsafe_b64decode(raw.removeprefix(_SEALED).encode())
        return request.app[K.SECRET_BOX].open(sealed, bound_to=_PAGE_BINDING)
    except (ValueError, InvalidTag) as exc:
        raise invalid("after", "not a page token this API issued") from exc
