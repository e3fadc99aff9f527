"""Personal data in admin answers, masked by role. One policy for every endpoint.

- `auditor`: always masked. Identifiers keep a short head and tail, so rows of one
  customer still line up without revealing who it is.
- `compliance_officer`: masked by default; may unmask one customer's records for a
  stated reason (the access itself is logged as an audit event by the caller).
- `operator`: clear; operators create customers by reference and manage their keys, and
  cannot read decisions or the audit log at all.

To cover new personal data (KYC names, national ids, dates of birth), add the field to
the resource in FIELDS, or the key to VALUE_KEYS when it sits inside findings values or
event details.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Mask = Callable[[str], str]
_ELLIPSIS = "…"


def keep(head: int, tail: int) -> Mask:
    def mask(value: str) -> str:
        if len(value) <= head + tail + 2:  # too short to show any of it
            return _ELLIPSIS
        return value[:head] + _ELLIPSIS + (value[-tail:] if tail else "")

    return mask


_ID = keep(4, 4)
_TOKEN = keep(2, 2)
_ADDRESS = keep(6, 4)
_NAME = keep(1, 0)

# Per resource: field -> how it is masked.
FIELDS: dict[str, dict[str, Mask]] = {
    "decision": {
        "customer_id": _ID, "api_key_id": _ID, "request_id": _TOKEN, "client_order_id": _TOKEN,
        "address": _ADDRESS,
    },
    "customer": {"id": _ID, "reference": _NAME},
    "api_key": {"customer_id": _ID, "api_key": _TOKEN},
    "event": {},
    "hold": {
        "customer_id": _ID, "api_key_id": _ID, "client_order_id": _TOKEN, "idempotency_key": _TOKEN,
        "address": _ADDRESS,
    },
    "report": {"customer_id": _ID},
}  # fmt: skip
# An event's subject_id is personal only when the subject is a person (not a checkpoint).
PERSONAL_SUBJECTS = frozenset({"customer"})
# Keys masked wherever they appear inside findings values or event details.
VALUE_KEYS: dict[str, Mask] = {
    "address": _ADDRESS, "customer_id": _ID, "reference": _NAME, "name": _NAME,
    "national_id": _TOKEN, "date_of_birth": _TOKEN, "account_number": _TOKEN,
}  # fmt: skip
_NESTED = {"decision": "findings", "event": "details", "hold": "findings", "report": "details"}
CLEAR_ROLES = frozenset({"operator"})


def _owner(resource: str, row: dict[str, Any]) -> str | None:
    """The customer a row is about, which decides whether an unmasking covers it."""
    if resource == "customer":
        return row.get("id")
    if resource == "event":
        return row.get("subject_id") if row.get("subject_type") == "customer" else None
    return row.get("customer_id")


def _mask_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask_nested(v) for v in value]
    if isinstance(value, dict):
        return {
            k: VALUE_KEYS[k](str(v)) if k in VALUE_KEYS and v is not None else _mask_nested(v)
            for k, v in value.items()
        }
    return value


@dataclass(frozen=True)
class Viewer:
    role: str
    unmasked_customer: uuid.UUID | None = None

    def sees_clear(self, customer_id: str | None) -> bool:
        if self.role in CLEAR_ROLES:
            return True
        return (
            self.unmasked_customer is not None
            and customer_id is not None
            and customer_id == str(self.unmasked_customer)
        )

    def present(self, resource: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row as this viewer may see it (a copy when anything is masked)."""
        if self.sees_clear(_owner(resource, row)):
            return row
        shown = dict(row)
        for name, mask in FIELDS[resource].items():
            if shown.get(name) is not None:
                shown[name] = mask(str(shown[name]))
        if resource == "event" and shown.get("subject_type") in PERSONAL_SUBJECTS and shown.get("subject_id"):
            shown["subject_id"] = _ID(str(shown["subject_id"]))
        nested = _NESTED.get(resource)
        if nested and shown.get(nested) is not None:
            shown[nested] = _mask_nested(shown[nested])
        return shown
