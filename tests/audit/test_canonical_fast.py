"""A jsonb column written once in canonical form (`canonical_json`) hashes to the very
bytes the old way gives (the column's plain orjson text, parsed and written again with
sorted keys), and to the bytes the verifier computes from what Postgres gives back: the
appender may skip the second encoding, old rows and new rows verify alike."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.canonical import (
    _INTEGRAL_FLOAT_MARKS,
    GENESIS,
    CanonicalJson,
    _may_hold_integral_float,
    canonical_bytes,
    canonical_json,
)

_MAX_JSON_INT = 2**63
_CHAIN = uuid.UUID(int=7)


def _oracle_value(value: Any) -> Any:
    """The normalising walk the hash has always used (gateway/audit/canonical.py before
    the write-once path), kept here as the oracle."""
    if isinstance(value, dict):
        return {k: _oracle_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_oracle_value(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _MAX_JSON_INT else value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _MAX_JSON_INT:
        return str(value)
    return value


def _oracle_entry(text: str) -> bytes:
    entry = {"doc": _oracle_value(orjson.loads(text)), "_stream": "s", "_chain_id": str(_CHAIN)}
    entry |= {"_seq": 1, "_prev_hash": GENESIS.hex()}
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def _entry(text: str) -> bytes:
    return canonical_bytes("s", ("doc",), frozenset({"doc"}), (text,), _CHAIN, 1, GENESIS)


_KEYS = st.sampled_from(["a", "b", "B", "_x", "é", "10", "2", "price", "values"])
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson encodes
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.0, -0.0, 1e16, 1.5e16, 2.5e-9, 123.0])
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.text(max_size=12)
    | st.sampled_from(["x:1.5,", "[2e3]", ":1.0}", "12:00:00.000000+00:00", '",1.5]'])
)
_DOCUMENTS = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_written_once_hashes_as_the_old_way(document: Any) -> None:
    text = canonical_json(document, default=str)
    plain = orjson.dumps(document, default=str).decode()
    # The same value goes to Postgres either way.
    assert orjson.loads(str(text)) == orjson.loads(plain)
    assert _entry(text) == _oracle_entry(plain)
    # The slow path (what the verifier runs on a plain string) agrees too.
    assert _entry(str(text)) == _oracle_entry(plain)


@pytest.mark.parametrize(
    "document",
    [
        {"b": 1, "a": [{"d": "1.5", "c": None}], "when": "2024-01-01T10:00:00.000000+00:00"},
        [{"stage": "kyc", "values": {"age": 17, "minimum": 18}}],
        {"text looks like numbers": "x:1.5,[2e3]"},
        {"a float the parse gives back as it was": [1.5, 2.5e-9]},
    ],
)
def test_float_free_documents_take_the_write_once_path(document: Any) -> None:
    # Without this, the property above could pass with the shortcut never taken.
    text = canonical_json(document)
    assert type(text) is CanonicalJson
    assert _entry(text) == _oracle_entry(orjson.dumps(document).decode())


@pytest.mark.parametrize("document", [[1.0], [-0.0], 2.0, [2**60], {"n": -(2**63)}, [1e16]])
def test_numbers_the_parse_may_rewrite_take_the_exact_path(document: Any) -> None:
    text = canonical_json(document)
    assert type(text) is str
    assert _entry(text) == _oracle_entry(orjson.dumps(document).decode())


@given(st.binary(max_size=64) | st.text(alphabet=".0,}]e+1a", max_size=40).map(str.encode))
def test_the_float_mark_scan_finds_exactly_the_marks(text: bytes) -> None:
    """One pass over each `.0` answers as a search for each mark would."""
    assert _may_hold_integral_float(text) == any(mark in text for mark in _INTEGRAL_FLOAT_MARKS)


def test_decimals_keep_the_text_the_column_writer_gives_them() -> None:
    # Findings are written with default=str: Decimal("1E+2") is the string "1E+2".
    text = canonical_json({"limit": Decimal("1E+2")}, default=str)
    assert orjson.loads(str(text)) == {"limit": "1E+2"}


@pytest.mark.asyncio
async def test_written_once_hashes_alike_after_a_trip_through_jsonb(database_url: str) -> None:
    documents: list[Any] = [
        {"b": [1, 2, {"y": None, "x": 'é\n"q"'}], "a": True, "c": -(2**53) + 1},
        [{"stage": "aml", "values": {"sum": "1000.50", "n": 3}}, {}],
        {"facts": {"kyc": {"age": 30}, "markets": {"fetched_at": "2024-01-01T00:00:00.000000+00:00"}}},
        {"float": 1.0, "exp": 2.5e-9, "big": 2**63 + 5},
    ]
    conn = await asyncpg.connect(database_url)
    try:
        for document in documents:
            text = canonical_json(document)
            stored = await conn.fetchval("SELECT $1::text::jsonb::text", str(text))
            assert _entry(text) == _entry(stored), (text, stored)
    finally:
        await conn.close()
