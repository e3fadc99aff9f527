"""Demo customers with API keys, for `make run` and the benchmark. Idempotent.

Demo key secrets are derived from the installation's secret key, so they are stable
across restarts (and can be printed again) but differ between installations.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from gateway import kyc_service
from gateway.sealing import SecretBox
from gateway.store import customers as store
from kyc.identity import parse_identity

SEEDER = "seed-demo"


@dataclass(frozen=True)
class DemoCustomer:
    reference: str
    status: str
    residence_country: str
    nationality: str
    residence_region: str | None = None


DEMO_CUSTOMERS = (
    DemoCustomer("demo-alice", "active", "KR", "KR"),
    DemoCustomer("demo-bob", "active", "US", "US", "NY"),  # New York: needs a BitLicense
    DemoCustomer("demo-carol", "suspended", "KR", "KR"),
    DemoCustomer("demo-chen", "active", "CN", "CN"),  # China: no crypto trading
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
                fields = {
                    "status": demo.status,
                    "residence_country": demo.residence_country,
                    "residence_region": demo.residence_region,
                    "nationality": demo.nationality,
                }
                customer = await store.create_customer(conn, demo.reference, fields)
            api_key = f"{demo.reference}-{_derive(secret_key_b64, 'key:' + demo.reference)[:24]}"
            secret = _derive(secret_key_b64, "secret:" + demo.reference)
            await _verified_identity(conn, box, secret_key_b64, uuid.UUID(customer["id"]), demo)
            exists = await conn.fetchval("SELECT true FROM api_keys WHERE api_key = $1", api_key)
            if not exists:
                await store.issue_key(
                    conn, box, uuid.UUID(customer["id"]), "demo", api_key=api_key, secret=secret
                )
        keys.append(DemoKey(demo.reference, customer["id"], customer["status"], api_key, secret))
    return keys


def demo_name(demo: DemoCustomer) -> str:
    return demo.reference.removeprefix("demo-").title() + " Demo"


async def _verified_identity(
    conn: asyncpg.Connection, box: SecretBox, secret_key_b64: str, customer_id: uuid.UUID, demo: DemoCustomer
) -> None:
    """A synthetic identity, verified at level "full", unless the customer has one."""
    if await conn.fetchval("SELECT true FROM kyc_identities WHERE customer_id = $1", customer_id):
        return
    now = datetime.now(UTC)
    passport = "D" + str(int(_derive(secret_key_b64, "passport:" + demo.reference)[:12], 16))[:8]
    identity = parse_identity(
        {
            "customer_type": "individual", "legal_name": demo_name(demo),
            "date_of_birth": "1990-01-01", "nationality": demo.nationality,
            "residence_country": demo.residence_country, "residence_region": demo.residence_region,
            "contact": {"email": f"{demo.reference}@example.org"},
            "national_id": {"country": demo.nationality, "type": "passport", "number": passport},
            "identity_document": {"type": "passport", "number": passport, "issuing_country": demo.nationality,
                                  "expiry_date": "2035-01-01"},
            "risk_rating": "low",
        },
        today=now.date(),
    )  # fmt: skip
    await kyc_service.submit_identity(conn, box, secret_key_b64, customer_id, identity, by=SEEDER, at=now)
    await kyc_service.verify(conn, customer_id, by=SEEDER, at=now, level="full", note="demo data")
