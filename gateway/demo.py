"""Demo customers with API keys, for `make run` and the benchmark. Idempotent.

Demo key secrets are derived from the installation's secret key, so they are stable
across restarts (and can be printed again) but differ between installations.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import asyncpg

from gateway.sealing import SecretBox
from gateway.store import customers as store


@dataclass(frozen=True)
class DemoCustomer:
    reference: str
    status: str


DEMO_CUSTOMERS = (
    DemoCustomer("demo-alice", "active"),
    DemoCustomer("demo-bob", "active"),
    DemoCustomer("demo-carol", "suspended"),
)


@dataclass(frozen=True)
class DemoKey:
    reference: str
    customer_id: str
    status: str
    api_key: str
    secret: str


def _derive(secret_key_b64: str, label: str) -> str:
    return hmac.new(secret_key_b64.encode(), label.encode(), hashlib.sha256).hexdigest()


async def seed_demo(conn: asyncpg.Connection, box: SecretBox, secret_key_b64: str) -> list[DemoKey]:
    keys = []
    for demo in DEMO_CUSTOMERS:
        async with conn.transaction():
            customer = await store.find_customer(conn, demo.reference)
            if customer is None:
                customer = await store.create_customer(conn, demo.reference, demo.status)
            api_key = f"{demo.reference}-{_derive(secret_key_b64, 'key:' + demo.reference)[:24]}"
            secret = _derive(secret_key_b64, "secret:" + demo.reference)
            exists = await conn.fetchval("SELECT true FROM api_keys WHERE api_key = $1", api_key)
            if not exists:
                await store.issue_key(
                    conn, box, uuid.UUID(customer["id"]), "demo", api_key=api_key, secret=secret
                )
        keys.append(DemoKey(demo.reference, customer["id"], customer["status"], api_key, secret))
    return keys
