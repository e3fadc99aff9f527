"""The canonical form of jsonb columns: the appender's JSON text and the text Postgres
gives back must hash alike, whatever numbers they hold, and the shortcut that skips the
normalising walk must never change the result."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.canonical import GENESIS, _default, _json_value, _parsed_json, canonical_bytes

DOCUMENTS: list[Any] = [
    {"a": 1, "b": [1, 2, 3], "c": "1.5", "d": None, "e": True},
    {"price": 1.5, "n": [0.1, -2.25e-7]},
    {"integral float": 1.0, "exponent": 1e16, "negative": -3.0},
    {"big": 2**63, "bigger": -(2**70), "just below": 2**63 - 1},
    [1.5, {"x": [2e3]}],
    {"a string that looks like numbers": "x:1.5,[2e3, 12345678901234567890"},
    {"nested": {"deeper": {"deepest": [{"v": 12.0}]}}},
    {"edges": [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -0, 1e-400]},
    [-0.0, 0.0, 1.0e2, 123456789012345678901234567890.5],
    {},
    [],
]


def _dumps(document: Any) -> str:
    # The standard library's encoder: orjson refuses integers beyond 64 bits.
    return json.dumps(document, separators=(",", ":"))


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_the_shortcut_gives_what_the_walk_gives(document: Any) -> None:
    compact = _dumps(document)
    spaced = json.dumps(document)  # as Postgres prints jsonb: a space after ':' and ','

    for text in (compact, spaced):
        assert _parsed_json(text) == _json_value(orjson.loads(text))


@pytest.mark.parametrize("text", ["[1e400]", "-1e400", "1" + "0" * 400, "[NaN]", '{"a": Infinity}'])
def test_numbers_orjson_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        orjson.loads(text)
    with pytest.raises(ValueError):
        _parsed_json(text)


def test_random_documents_agree() -> None:
    rng = random.Random(7)

    def value(depth: int) -> Any:
        choice = rng.randrange(8 if depth < 3 else 5)
        if choice == 0:
            return rng.randint(-(2**70), 2**70) if rng.random() < 0.2 else rng.randint(-1000, 1000)
        if choice == 1:
            return rng.choice([rng.uniform(-1e6, 1e6), float(rng.randint(-50, 50)), 1e16, 2.5e-9])
        if choice == 2:
            return rng.choice(["", "1.5", "a:1", "[3e4", "text", "12345678901234567890"])
        if choice == 3:
            return rng.choice([None, True, False])
        if choice == 4:
            return rng.randint(0, 10)
        if choice == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{n}": value(depth + 1) for n in range(rng.randrange(4))}

    for _ in range(500):
        text = _dumps({"root": value(0)})
        assert _parsed_json(text) == _json_value(orjson.loads(text)), text


@pytest.mark.asyncio
async def test_a_document_hashes_the_same_after_a_trip_through_jsonb(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for document in DOCUMENTS:
            text = _dumps(document)
            stored = await conn.fetchval("SELECT $1::text::jsonb::text", text)
            chain = uuid.uuid4()
            ours, theirs = (
                canonical_bytes("s", ("doc",), frozenset({"doc"}), (t,), chain, 1, GENESIS)
                for t in (text, stored)
            )
            assert ours == theirs, (text, stored)
    finally:
        await conn.close()


@given(st.datetimes(timezones=st.one_of(st.just(UTC), st.timezones())))
def test_a_time_in_an_entry_is_written_as_isoformat_writes_it_in_utc(moment: datetime) -> None:
    """The entry hash's form of a datetime (UTC, always with microseconds) must stay what
    it was when old entries were hashed, whichever way it is produced."""
    assert _default(moment) == moment.astimezone(UTC).isoformat(timespec="microseconds")
