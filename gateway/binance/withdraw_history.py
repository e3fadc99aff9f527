"""What the client sees of its held withdrawals: merged into the exchange's withdraw
history (`GET /sapi/v1/capital/withdraw/history`) with Binance's status codes.

A held withdrawal was answered `{"id": "<decision id>"}`, so the client looks for that id:
- pending → 2 "Awaiting Approval"; rejected → 3 "Rejected"; expired → 1 "Cancelled";
- approved and not yet answered by the exchange → 4 "Processing"; refused by the
  exchange → 5 "Failure";
- forwarded: the exchange's own row is shown, under the id the client was given (the
  exchange's withdrawOrderId on it is the hold's idempotency key).

Hooks (gateway/http/proxy.py, for `withdraw.history` of a customer): before forwarding,
`exchange_query` swaps the ids of forwarded holds in `idList` for the exchange's ids (the
exchange filters by its own); after, on a 200,
    body = await merge_withdraw_history(app[K.POOL], uuid.UUID(customer_id), request.query, answer.body)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import asyncpg
import orjson

from gateway.review.store import call_params

# Binance withdraw statuses (0 Email Sent, 1 Cancelled, 2 Awaiting Approval, 3 Rejected,
# 4 Processing, 5 Failure, 6 Completed) and the info text shown with each.
_STATUS: Final = {
    "pending": (2, "Awaiting compliance review"),
    "forwarding": (4, "Approved; being sent"),
    "forward_failed": (5, "Refused by the exchange after approval"),
    "rejected": (3, "Rejected by compliance review"),
    "expired": (1, "Cancelled: not reviewed in time"),
}
HISTORY_LIMIT_MAX: Final = 1000  # Binance's largest page


async def exchange_query(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool, customer_id: uuid.UUID, raw_query: str
) -> str:
    """`raw_query` as the exchange must see it: in `idList`, a forwarded hold's id (the one
    the client was answered with) becomes the exchange's id for that withdrawal."""
    pieces = raw_query.split("&")
    at = next((n for n, p in enumerate(pieces) if p.startswith("idList=")), None)
    if at is None:
        return raw_query
    ids = call_params(pieces[at], b"").get("idList", "").split(",")
    held = [uuid.UUID(i) for i in ids if _is_uuid(i)]
    if not held:
        return raw_query
    rows = await conn_or_pool.fetch(
        """SELECT id, exchange_withdraw_id FROM held_calls
            WHERE customer_id = $1 AND id = ANY($2::uuid[]) AND exchange_withdraw_id IS NOT NULL""",
        customer_id,
        held,
    )
    swapped = {r["id"]: r["exchange_withdraw_id"] for r in rows}
    if not swapped:
        return raw_query
    ids = [swapped.get(uuid.UUID(i), i) if _is_uuid(i) else i for i in ids]
    pieces[at] = "idList=" + quote(",".join(ids), safe=",")
    return "&".join(pieces)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _binance_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None


def _wanted(row: asyncpg.Record, params: Mapping[str, str]) -> bool:
    status = _STATUS[row["state"]][0]
    start, end, wanted_status = _int(params, "startTime"), _int(params, "endTime"), _int(params, "status")
    id_list = params.get("idList")
    return (
        (params.get("coin") is None or row["asset"] == params["coin"])
        and (wanted_status is None or status == wanted_status)
        and (start is None or _ms(row["held_at"]) >= start)
        and (end is None or _ms(row["held_at"]) <= end)
        and (params.get("withdrawOrderId") is None or row["client_order_id"] == params["withdrawOrderId"])
        and (id_list is None or str(row["id"]) in id_list.split(","))
    )


def _amount(value: Decimal | None) -> str:
    return format(value, "f") if value is not None else "0"


def held_row(row: asyncpg.Record) -> dict[str, Any]:
    """One held call as a Binance withdraw-history entry."""
    status, info = _STATUS[row["state"]]
    out: dict[str, Any] = {
        "id": str(row["id"]), "amount": _amount(row["amount"]), "transactionFee": "0",
        "coin": row["asset"], "status": status, "address": row["address"], "txId": "",
        "applyTime": _binance_time(row["held_at"]), "network": row["network"] or "",
        "transferType": 0, "info": info, "walletType": 0, "txKey": "",
    }  # fmt: skip
    tag = call_params(row["raw_query"], bytes(row["body"])).get("addressTag")
    if tag:
        out["addressTag"] = tag
    if row["client_order_id"]:
        out["withdrawOrderId"] = row["client_order_id"]
    return out


async def merge_withdraw_history(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    customer_id: uuid.UUID,
    params: Mapping[str, str],
    upstream_body: bytes,
) -> bytes:
    """The exchange's answer with this customer's held withdrawals merged in, newest first,
    filtered by the same parameters (coin, status, startTime, endTime, withdrawOrderId,
    idList) and cut to `limit`. Anything but a JSON list (an error) passes unchanged."""
    try:
        answer = orjson.loads(upstream_body)
    except orjson.JSONDecodeError:
        return upstream_body
    if not isinstance(answer, list):
        return upstream_body
    limit = min(_int(params, "limit") or HISTORY_LIMIT_MAX, HISTORY_LIMIT_MAX)
    exchange_ids = [str(r["id"]) for r in answer if isinstance(r, dict) and r.get("id") is not None]
    rows = await conn_or_pool.fetch(
        """(SELECT id, state, asset, amount, address, network, held_at, client_order_id,
                   raw_query, body, NULL::text AS exchange_withdraw_id
              FROM held_calls
             WHERE customer_id = $1 AND state <> 'forwarded' AND action_kind = 'withdrawal'
             ORDER BY held_at DESC LIMIT $3)
           UNION ALL
           (SELECT id, state, asset, amount, address, network, held_at, client_order_id,
                   raw_query, body, exchange_withdraw_id
              FROM held_calls
             WHERE customer_id = $1 AND state = 'forwarded' AND exchange_withdraw_id = ANY($2::text[]))""",
        customer_id,
        exchange_ids,
        HISTORY_LIMIT_MAX,
    )
    renamed = {r["exchange_withdraw_id"]: str(r["id"]) for r in rows if r["state"] == "forwarded"}
    for entry in answer:
        if isinstance(entry, dict) and str(entry.get("id")) in renamed:
            entry["id"] = renamed[str(entry["id"])]
    held = [held_row(r) for r in rows if r["state"] != "forwarded" and _wanted(r, params)]
    merged = sorted(
        [*held, *answer],
        key=lambda e: str(e.get("applyTime", "")) if isinstance(e, dict) else "",
        reverse=True,
    )
    return orjson.dumps(merged[:limit])
