"""Dual control (four eyes): how many officers must approve a held call before it is
released, from its value in the home currency and GATEWAY_REVIEW_DUAL_CONTROL_ABOVE. Pure.

Decided once, when the call is parked (gateway/review/store.py), and kept with the hold,
so every gateway process and every reader applies the same rule to it."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

SINGLE: Final = 1
DUAL: Final = 2  # two different officers (hold_approvals' key is (hold_id, actor))


def approvals_required(home_value: Decimal | None, above: Decimal | None) -> int:
    """Two above the threshold (strictly greater), one at or below it; unset: one. A hold
    nothing valued in the home currency fails closed: two."""
    if above is None:
        return SINGLE
    if home_value is None or home_value > above:
        return DUAL
    return SINGLE
