"""Unmasking one customer's personal data: who may, why, and the record of it.

The admin API (`?unmask=<id>&justification=...`, gateway/http/admin/disclosure.py) and
the console's unmask form both come here, so the rule is one: only a role holding
Permission.UNMASK_PERSONAL_DATA, only with a stated reason of JUSTIFICATION_CHARS, and
the access is appended to the audit log (and committed) before the caller reads any
data. An unmasking that cannot be logged does not happen: the caller gets the database
error, never a clear Viewer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.audit.events import EventKind, EventLog
from gateway.audit.masking import Viewer
from gateway.metrics import GatewayMetrics
from gateway.roles import AdminTokens, Permission
from gateway.store.records import EventRow

JUSTIFICATION_CHARS = (10, 500)  # the admin edge allows a justification this long


class UnmaskRefused(Exception):
    """The role may not unmask personal data."""


class BadJustification(ValueError):
    """The stated reason is missing, too short or too long."""


def checked_justification(text: str) -> str:
    """The reason as it is logged (stripped), or BadJustification saying what is expected."""
    justification = text.strip()
    low, high = JUSTIFICATION_CHARS
    if not low <= len(justification) <= high:
        raise BadJustification(f"why the personal data is needed, {low} to {high} characters")
    return justification


@dataclass(frozen=True)
class Unmasking:
    viewer: Viewer
    event: EventRow  # the audit entry that records this access (committed)


async def unmask(
    pool: asyncpg.Pool,
    events: EventLog,
    metrics: GatewayMetrics,
    *,
    role: str,
    actor: str,
    customer_id: uuid.UUID,
    justification: str,
    details: dict[str, Any],
) -> Unmasking:
    """Log the access, then hand back the Viewer that sees `customer_id` in clear.
    `details` says what was read (method, endpoint, other parameters), never personal data."""
    if not AdminTokens.allows(role, Permission.UNMASK_PERSONAL_DATA):
        raise UnmaskRefused(f"Role {role!r} may not {Permission.UNMASK_PERSONAL_DATA.value}.")
    reason = checked_justification(justification)
    async with pool.acquire() as conn, events.transaction(conn) as log:
        event = await log.append(
            EventKind.PERSONAL_DATA_UNMASKED, actor, subject_type="customer",
            subject_id=str(customer_id), reason=reason, details=details,
        )  # fmt: skip
    metrics.audit_unmasked.inc()
    return Unmasking(Viewer(role, customer_id), event)
