"""The sweep's report gauges (alert GatewayReportsPilingUp): open candidates by kind and the
age of the oldest, back to 0 once the last one of a kind is filed."""

from __future__ import annotations

import uuid

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from gateway.review.store import REPORT_KINDS
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import OFFICER_TOKEN, admin, new_customer

pytestmark = pytest.mark.asyncio
EIGHT_DAYS = 8 * 86400


def _gauges(gateway: Gateway) -> dict[str, tuple[float, float]]:
    metrics = gateway.app[K.METRICS]
    return {
        kind: (
            metrics.reports_open.labels(kind)._value.get(),
            metrics.reports_oldest_open.labels(kind)._value.get(),
        )
        for kind in REPORT_KINDS
    }


async def _open_ctr(gateway: Gateway, customer_id: str, decision_id: uuid.UUID, days_ago: int) -> uuid.UUID:
    """A CTR candidate opened `days_ago` days ago, written as the owner (the runtime role
    opens candidates only at now())."""
    report_id = uuid.uuid4()
    conn = await asyncpg.connect(gateway.database_url)
    try:
        await conn.execute(
            """INSERT INTO report_candidates (id, kind, customer_id, decision_ids, status, opened_at, updated_at)
               VALUES ($1, 'CTR', $2, $3, 'open', now() - make_interval(days => $4), now())""",
            report_id, uuid.UUID(customer_id), [decision_id], days_ago,
        )  # fmt: skip
    finally:
        await conn.close()
    return report_id


async def test_sweep_counts_open_reports_by_kind_and_their_age(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    review = gateway.app[K.REVIEW]
    await review.sweep()
    assert _gauges(gateway) == {"CTR": (0, 0), "STR": (0, 0)}

    ivan = await new_customer(http, gateway.url, "ivan")
    old = await _open_ctr(gateway, ivan.id, await make_hold(gateway, ivan), days_ago=8)
    await _open_ctr(gateway, ivan.id, await make_hold(gateway, ivan), days_ago=1)
    await review.sweep()
    gauges = _gauges(gateway)
    assert gauges["CTR"][0] == 2 and gauges["STR"] == (0, 0)
    assert EIGHT_DAYS <= gauges["CTR"][1] < EIGHT_DAYS + 3600  # the oldest, not the newest

    status, _ = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/reports/{old}", token=OFFICER_TOKEN,
        json={"status": "filed", "note": "Filed with KoFIU."},
    )  # fmt: skip
    assert status == 200
    await review.sweep()
    count, oldest = _gauges(gateway)["CTR"]
    assert count == 1 and 86400 <= oldest < EIGHT_DAYS
