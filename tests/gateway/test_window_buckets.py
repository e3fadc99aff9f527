"""Running window totals (migration 0014, gateway/store/movements.py) against the full
history they replace.

The oracle is the old read, kept here as it was: every counted movement of the longest
window, one by one (not refused as a held call or by a 4xx of the exchange, a retried
client order id once, its first attempt). Hypothesis generates histories (times around
every window edge, both directions, a bank and a chain asset, valued or not, held calls
rejected, expired or failed, 4xx answers, retries inserted out of time order) and checks
that what the stages compare is the same both ways: each window's sum and count per
direction and rail, each local day's cash total, the movements in a structuring band.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aml.facts import PastMovement
from aml.money import Money
from aml.structuring import Band, in_band
from aml.windows import WINDOW_LENGTH, Movement, MovementDirection, window_total
from gateway.audit.chain import write_companions
from gateway.store import db, movements
from rules.calendar import local_date
from rules.model import Comparison, Direction, Rail, Threshold, Window

NOW = datetime(2024, 3, 10, 12, 34, 56, 789000, tzinfo=UTC)
CURRENCY = "USD"
PRICE_TODAY = Decimal(3)  # today's value of one unit of an asset nobody valued in USD
BANK, CHAIN = "KRW", "BTC"
BAND = Threshold(amount=Decimal(1000), currency=CURRENCY, comparison=Comparison.AT_OR_ABOVE)
BAND_PERCENT = Decimal(10)
REFUSALS = ("rejected", "expired", "forward_failed")


async def _old_full_history(
    conn: asyncpg.Connection, customer: uuid.UUID, now: datetime
) -> list[PastMovement]:
    """The read movements.py made before running totals (the oracle), with the client
    order id from the movement's own column."""
    rows = await conn.fetch(
        """SELECT occurred_at, direction, asset, amount, "values" FROM (
               SELECT DISTINCT ON (m.direction, coalesce(m.client_order_id, m.decision_id::text))
                      m.occurred_at, m.direction, m.asset, m.amount, m."values"
                 FROM movements m
                WHERE m.customer_id = $1 AND m.occurred_at > $2
                  AND NOT (m.held AND EXISTS (
                        SELECT 1 FROM held_calls h
                         WHERE h.id = m.decision_id
                           AND h.state IN ('rejected', 'expired', 'forward_failed')))
                  AND NOT EXISTS (
                        SELECT 1 FROM upstream_results u
                         WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)
                ORDER BY m.direction, coalesce(m.client_order_id, m.decision_id::text), m.occurred_at
           ) counted
           ORDER BY occurred_at""",
        customer,
        now - movements.LOOKBACK,
    )
    return [
        PastMovement(
            at=r["occurred_at"],
            direction=MovementDirection(r["direction"]),
            asset=r["asset"],
            amount=r["amount"],
            values=tuple((c, Decimal(v)) for c, v in sorted(r["values"].items())),
        )
        for r in rows
    ]


def _in_usd(past: Sequence[PastMovement]) -> list[Movement]:
    """As aml_stage values them: recorded values, today's price for what was not valued."""
    out = []
    for p in past:
        recorded = p.value_in(CURRENCY)
        value = (
            p.amount * PRICE_TODAY if recorded is None else recorded + p.unvalued_in(CURRENCY) * PRICE_TODAY
        )
        rail = Rail.BANK if p.asset == BANK else Rail.VIRTUAL_ASSET
        out.append(Movement(p.at, p.direction, Money(value, CURRENCY), rail, p.count))
    return out


def _compared(history: Sequence[Movement], now: datetime) -> Iterator[tuple[object, ...]]:
    """Everything the window, linked and cash stages read from a history."""
    for rails in ({Rail.BANK}, {Rail.VIRTUAL_ASSET}, {Rail.BANK, Rail.VIRTUAL_ASSET}):
        on_rails = [m for m in history if m.rail in rails]
        for window in Window:
            for direction in Direction:
                yield ("window", tuple(rails), window_total(on_rails, window, direction, now, CURRENCY))
        for country in ("KR", "US", "CH"):
            today = local_date(now, country)
            day: date
            cash = [m for m in on_rails if (day := local_date(m.at, country)) == today]
            assert all(local_date(m.at, country) == day for m in cash)
            yield ("cash", tuple(rails), country, sum((m.amount.amount for m in cash), Decimal(0)),
                   sum(m.count for m in cash))  # fmt: skip


@dataclass(frozen=True)
class Op:
    seconds: int  # from NOW
    direction: MovementDirection
    asset: str
    amount: Decimal
    valued: bool
    held: bool
    order_id: str | None
    refusal: str | None  # a held call's end, or "4xx"


_EDGES = [timedelta(0), timedelta(hours=-24), timedelta(days=-7), timedelta(days=-30), timedelta(hours=-48)]
_times = st.builds(
    lambda edge, delta: int((edge + timedelta(seconds=delta)).total_seconds()),
    st.sampled_from(_EDGES),
    st.integers(-3 * 3600, 3 * 3600),
).filter(lambda s: s <= 600)
_ops = st.builds(
    Op,
    seconds=_times,
    direction=st.sampled_from(list(MovementDirection)),
    asset=st.sampled_from([BANK, CHAIN]),
    amount=st.sampled_from(
        [Decimal("1"), Decimal("300.5"), Decimal("305"), Decimal("333.34"), Decimal("1000")]
    ),
    valued=st.booleans(),
    held=st.booleans(),
    order_id=st.sampled_from([None, None, "a", "b"]),
    refusal=st.sampled_from([None, None, *REFUSALS, "4xx"]),
)


async def _customer(conn: asyncpg.Connection) -> uuid.UUID:
    customer = uuid.uuid4()
    await conn.execute("INSERT INTO customers (id, reference) VALUES ($1, $2)", customer, str(customer))
    return customer


async def _apply(conn: asyncpg.Connection, customer: uuid.UUID, ops: Sequence[Op]) -> None:
    ids = []
    for op in ops:  # inserted in the generated order, not in time order
        decision = uuid.uuid4()
        ids.append(decision)
        amount = op.amount if op.asset == CHAIN else op.amount * 1000
        values = {CURRENCY: op.amount} if op.valued else {}
        await write_companions(conn, [movements.movement(
            customer_id=str(customer), decision_id=decision, direction=op.direction, asset=op.asset,
            amount=amount, values=values, occurred_at=NOW + timedelta(seconds=op.seconds), held=op.held,
            client_order_id=op.order_id,
        )])  # fmt: skip
        if op.held:
            await conn.execute(
                """INSERT INTO held_calls (id, customer_id, action_kind, http_method, path, raw_query, body,
                                           idempotency_key, key_added, held_at, expires_at, updated_at)
                   VALUES ($1, $2, 'withdrawal', 'POST', '/w', '', '', $3, true, $4::timestamptz, $4::timestamptz + interval '1 day', $4::timestamptz)""",
                decision, customer, str(decision), NOW,
            )  # fmt: skip
    # Refusals after every insert, the held ones in one statement (as expiry does).
    held_ends = [
        (d, op.refusal) for d, op in zip(ids, ops, strict=True) if op.held and op.refusal in REFUSALS
    ]
    if held_ends:
        await conn.executemany("UPDATE held_calls SET state = $2 WHERE id = $1", held_ends)
    refused = [d for d, op in zip(ids, ops, strict=True) if op.refusal == "4xx"]
    if refused:
        await conn.execute(
            """INSERT INTO upstream_results (decision_id, recorded_at, http_status, upstream_micros)
               SELECT d, $2, 400, 1 FROM unnest($1::uuid[]) d""",
            refused, NOW,
        )  # fmt: skip


async def _relax(conn: asyncpg.Connection) -> None:
    """The held calls' review columns and transitions, the results' chain: not tested here."""
    await conn.execute(
        """DO $$ DECLARE c record; BEGIN
             FOR c IN SELECT conrelid::regclass AS rel, conname FROM pg_constraint
                       WHERE conrelid IN ('held_calls'::regclass, 'upstream_results'::regclass)
                         AND contype = 'c' LOOP
               EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.rel, c.conname);
             END LOOP;
             FOR c IN SELECT tgname FROM pg_trigger
                       WHERE tgrelid = 'held_calls'::regclass AND NOT tgisinternal
                         AND tgname <> 'movement_buckets_on_refusal' LOOP
               EXECUTE format('ALTER TABLE held_calls DISABLE TRIGGER %I', c.tgname);
             END LOOP; END $$"""
    )


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def owner(postgres: object, loop: asyncio.AbstractEventLoop) -> Iterator[asyncpg.Connection]:
    from tests.conftest import fresh_database

    async def connect() -> asyncpg.Connection:
        conn = await db.connect(await fresh_database(postgres))  # type: ignore[arg-type]
        await db._init_connection(conn)  # the pool's codecs (jsonb as Python values)
        await _relax(conn)
        return conn

    conn = loop.run_until_complete(connect())
    yield conn
    loop.run_until_complete(conn.close())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_ops, max_size=14), now_shift=st.integers(0, 3599))
def test_window_totals_from_buckets_equal_the_full_history(
    owner: asyncpg.Connection, loop: asyncio.AbstractEventLoop, ops: list[Op], now_shift: int
) -> None:
    # Attempts of one id at one instant have no first; nor do they straddle the lookback
    # edge, which the old read's DISTINCT ON only saw one side of.
    for order_id in {"a", "b"}:
        for direction in MovementDirection:
            times = [op.seconds for op in ops if op.order_id == order_id and op.direction is direction]
            assume(len(set(times)) == len(times))
            assume(all(t > -30 * 86400 + 3600 for t in times) or all(t < -30 * 86400 - 3600 for t in times))
    now = NOW + timedelta(seconds=now_shift)
    band = Band(CURRENCY, Decimal(900), BAND.amount, False, WINDOW_LENGTH[Window.DAY])

    async def check() -> None:
        customer = await _customer(owner)
        async with owner.transaction():
            await _apply(owner, customer, ops)
        old = await _old_full_history(owner, customer, now)
        new = await movements.window_history(owner, str(customer), now, [band])
        assert list(_compared(_in_usd(new.history), now)) == list(_compared(_in_usd(old), now))
        expected_band = sorted(
            (m.at, m.amount.amount)
            for m in _in_usd(old)
            if m.at > now - band.window and in_band(m.amount.amount, BAND, BAND_PERCENT)
        )
        got_band = sorted(
            (m.at, m.amount.amount)
            for m in _in_usd(new.banded)
            if in_band(m.amount.amount, BAND, BAND_PERCENT)
        )
        assert got_band == expected_band
        # Bounded: sums of hours and stretches, never one entry per past movement.
        assert len(new.history) <= 49 * 4 + 2 * 4 + sum(1 for _ in ops)

    loop.run_until_complete(check())


def test_a_long_history_is_read_as_a_few_sums(
    owner: asyncpg.Connection, loop: asyncio.AbstractEventLoop
) -> None:
    """300 withdrawals in the hour before: one bucket, not 300 entries."""

    async def check() -> None:
        customer = await _customer(owner)
        async with owner.transaction():
            for n in range(300):
                await write_companions(owner, [movements.movement(
                    customer_id=str(customer), decision_id=uuid.uuid4(),
                    direction=MovementDirection.WITHDRAWAL, asset=CHAIN, amount=Decimal("0.01"),
                    values={CURRENCY: Decimal("5")}, occurred_at=NOW - timedelta(seconds=n), held=False,
                )])  # fmt: skip
        got = await movements.window_history(owner, str(customer), NOW, [])
        assert sum(p.count for p in got.history) == 300
        assert sum(p.amount for p in got.history) == Decimal("3.00")
        assert sum(p.value_in(CURRENCY) or 0 for p in got.history) == 1500
        # One bucket, or two when an hour began in the last 300 seconds.
        assert len(got.history) <= 2

    loop.run_until_complete(check())


_BUCKETS = "SELECT * FROM movement_buckets ORDER BY customer_id, hour, direction, asset, currency"
_OLD_REFUSED = """
SELECT m.id FROM movements m
 WHERE (m.held AND EXISTS (SELECT 1 FROM held_calls h
                            WHERE h.id = m.decision_id AND h.state IN ('rejected', 'expired', 'forward_failed')))
    OR EXISTS (SELECT 1 FROM upstream_results u
                WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)
 ORDER BY m.id"""


def test_migration_0018_records_the_refusals_already_made(
    postgres: object, loop: asyncio.AbstractEventLoop
) -> None:
    """Movements refused under the old rule (computed on each read) get their refusal row
    when 0018 is applied, the totals do not move, and down and up again gives the same."""
    from gateway.store.migrations import migrate_down, migrate_up
    from tests.conftest import fresh_database

    ops = [
        Op(-60, MovementDirection.WITHDRAWAL, CHAIN, Decimal("1"), True, True, None, "rejected"),
        Op(-50, MovementDirection.WITHDRAWAL, CHAIN, Decimal("305"), True, False, "a", "4xx"),
        Op(-40, MovementDirection.WITHDRAWAL, CHAIN, Decimal("305"), True, False, "a", None),
        Op(-30, MovementDirection.DEPOSIT, BANK, Decimal("1000"), False, True, None, "expired"),
        Op(-20, MovementDirection.WITHDRAWAL, BANK, Decimal("1"), True, False, None, None),
    ]

    async def check() -> None:
        conn = await db.connect(await fresh_database(postgres))  # type: ignore[arg-type]
        try:
            await db._init_connection(conn)
            await migrate_down(conn, 17)
            await _relax(conn)
            customer = await _customer(conn)
            await _apply(conn, customer, ops)
            refused = [r["id"] for r in await conn.fetch(_OLD_REFUSED)]
            assert len(refused) == 3
            buckets = await conn.fetch(_BUCKETS)
            await migrate_up(conn)
            recorded = [
                r["movement_id"]
                for r in await conn.fetch("SELECT movement_id FROM movement_refusals ORDER BY 1")
            ]
            assert recorded == refused
            assert await conn.fetch(_BUCKETS) == buckets
            await migrate_down(conn, 17)
            await migrate_up(conn)
            assert await conn.fetch(_BUCKETS) == buckets
        finally:
            await conn.close()

    loop.run_until_complete(check())


def test_a_movement_is_refused_once_however_often_it_is_refused(
    owner: asyncpg.Connection, loop: asyncio.AbstractEventLoop
) -> None:
    """A second 4xx for the same call, in another statement, and a held call rejected after
    the exchange refused it: the totals lose the movement once."""

    async def check() -> None:
        customer = await _customer(owner)
        ops = [Op(-10, MovementDirection.WITHDRAWAL, CHAIN, Decimal("2"), True, True, None, "4xx"),
               Op(-5, MovementDirection.WITHDRAWAL, CHAIN, Decimal("3"), True, False, None, None)]  # fmt: skip
        await _apply(owner, customer, ops)
        held = await owner.fetchval(
            "SELECT decision_id FROM movements WHERE customer_id = $1 AND held", customer
        )
        for _ in range(2):
            await owner.execute(
                "INSERT INTO upstream_results (decision_id, recorded_at, http_status, upstream_micros) VALUES ($1, $2, 400, 1)",
                held, NOW,
            )  # fmt: skip
        await owner.execute("UPDATE held_calls SET state = 'rejected' WHERE id = $1", held)
        got = await movements.window_history(owner, str(customer), NOW, [])
        assert sum(p.count for p in got.history) == 1
        assert sum(p.amount for p in got.history) == Decimal(3)
        assert await owner.fetchval(
            "SELECT count(*) FROM movement_refusals r JOIN movements m ON m.id = r.movement_id WHERE m.customer_id = $1",
            customer,
        ) == 1  # fmt: skip

    loop.run_until_complete(check())


def test_generic_plans_last_only_as_long_as_the_customer_lock(
    owner: asyncpg.Connection, loop: asyncio.AbstractEventLoop
) -> None:
    """The lock statement switches its transaction to generic plans; the pooled connection
    goes back to the planner's own choice when the transaction ends, committed or not."""

    async def check() -> None:
        customer = str(await _customer(owner))
        for end in ("commit", "rollback"):
            transaction = owner.transaction()
            await transaction.start()
            await movements.lock_customer(owner, customer)
            assert await owner.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            await getattr(transaction, end)()
            assert await owner.fetchval("SHOW plan_cache_mode") == "auto"

    loop.run_until_complete(check())


def test_facts_1_documents_still_decode_with_every_movement_in_history() -> None:
    """A decision stored before running totals (facts/1: no `banded`, no `count`,
    no `unvalued`) reads back as it was, so replay decides structuring from its history."""
    import dataclasses

    import orjson

    from aml.facts import AmlFacts
    from gateway.decide import facts_codec
    from tests.gateway.test_replay import ORDER, _facts

    past = tuple(
        PastMovement(NOW - timedelta(hours=n), MovementDirection.WITHDRAWAL, CHAIN, Decimal("0.1"),
                     ((CURRENCY, Decimal(950)),))
        for n in range(3)
    )  # fmt: skip
    aml = AmlFacts(MovementDirection.WITHDRAWAL, (), (), 60, past, "snapshot", None)
    facts = _facts(aml=aml)
    document = orjson.loads(facts_codec.encode(facts, ORDER))
    assert document["format"] == facts_codec.FORMAT == "facts/2"
    document["format"] = "facts/1"
    del document["facts"]["aml"]["banded"]
    for entry in document["facts"]["aml"]["history"]:
        del entry["count"], entry["unvalued"]
    stored = facts_codec.decode(orjson.dumps(document))
    assert stored.facts.aml == aml and stored.facts.aml.banded is None
    assert stored.facts == dataclasses.replace(facts, markets=stored.facts.markets)
