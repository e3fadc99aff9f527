"""The canonical encoding of a log entry and its hash.

The appender hashes the values it is about to COPY; the verifier hashes the values it
reads back. Both must give the same bytes, so every value is first brought to one form
that survives the round trip through Postgres:

- Decimal (numeric): fixed-point text, no exponent, no negative zero (`format(d, "f")`
  keeps the scale, which numeric keeps too);
- datetime (timestamptz): UTC, to the microsecond;
- UUID: its text; bytes (bytea): hex;
- jsonb: the appender holds JSON text and the verifier selects `::text`, so both parse
  it and re-encode with sorted keys. jsonb rewrites numbers (`1e16` comes back as
  `10000000000000000`), so an integral float becomes an int. An appender that builds the
  text with `canonical_json` writes it in that form already: then the text is hashed as
  it is, not parsed and written again (the per-order path);
- everything else JSON already encodes one way (str, int, bool, None, lists).

A column added to a stream after entries were chained (`omit_null`) is left out of the
entry while it is NULL: the entries written before it existed hash as they did.

The entry is a JSON object with sorted keys: the stream, the chain fields and every
content column by name. Its SHA-256 is the entry hash (gateway/audit/streams.py).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

HASH_BYTES = 32
GENESIS = bytes(HASH_BYTES)  # prev_hash of every chain's first entry
_MAX_JSON_INT = 2**63
# orjson parses an integer token in this range as an int, any other as a float.
_ORJSON_INTS = range(-(2**63), 2**64)


def _decimal(value: Decimal) -> str:
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _json_value(value: Any) -> Any:
    """A parsed jsonb value with numbers in the form jsonb gives back. (Exact type tests:
    this runs for every finding of every decision, on the writer's hot path.)"""
    kind = type(value)
    if kind is dict:
        return {k: _json_value(v) for k, v in value.items()}
    if kind is list:
        return [_json_value(v) for v in value]
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < _MAX_JSON_INT else value
    if kind is int and abs(value) >= _MAX_JSON_INT:
        return str(value)
    return value


def _canonical_float(value: float) -> float | int:
    if value in (math.inf, -math.inf):
        raise ValueError("number is infinity when parsed as double")
    return int(value) if value.is_integer() and abs(value) < _MAX_JSON_INT else value


def _canonical_int(text: str) -> int | float | str:
    value = int(text)
    if value not in _ORJSON_INTS:
        try:
            return _canonical_float(float(value))
        except OverflowError:
            raise ValueError("number is infinity when parsed as double") from None
    return str(value) if abs(value) >= _MAX_JSON_INT else value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Parses JSON text straight into the form `_json_value(orjson.loads(text))` gives (the
# form entries have always been hashed in), with the number rules applied by the C
# scanner's hooks as it meets each number: twice as fast as parsing, then walking.
_CANONICAL_JSON = json.JSONDecoder(
    parse_float=lambda text: _canonical_float(float(text)),
    parse_int=_canonical_int,
    parse_constant=_no_constant,
)


def _parsed_json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return _CANONICAL_JSON.decode(value)
    return _json_value(value)


class CanonicalJson(str):
    """JSON text already in the canonical form of a jsonb column (sorted keys, no float,
    no integer the parse would rewrite): hashed as it is. Only `canonical_json` makes one."""

    __slots__ = ()


# What orjson writes for a float the canonical form turns into an int: an integral float
# (`1.0`, `-0.0`, `1e+16`) ends in `.0` or has a positive exponent; a non-integral one
# comes back from the parse as the same float and is written again as it was. A match
# inside a string only takes the slower, exact path.
_INTEGRAL_FLOAT_MARKS = (b".0,", b".0}", b".0]", b"e+")
_AFTER_POINT_ZERO = frozenset(b",}]")


def _may_hold_integral_float(text: bytes) -> bool:
    """Any of _INTEGRAL_FLOAT_MARKS in `text`, in one pass over each `.0` (timestamps and
    decimals hold a few) and `e+` only where there is a `+`: a search of a facts document
    costs 1.5 µs on this host, and one per mark was 8 µs in all."""
    at = text.find(b".0")
    while at != -1:
        if at + 2 < len(text) and text[at + 2] in _AFTER_POINT_ZERO:
            return True
        at = text.find(b".0", at + 2)
    return b"+" in text and b"e+" in text


_WRITE_ONCE = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def canonical_json(value: Any, default: Any = None) -> str:
    """`value` as the JSON text of a jsonb column (`default` as for orjson.dumps): a
    CanonicalJson when that text is the canonical form itself, which the entry hash then
    uses without a second parse and encoding; otherwise the plain text, hashed the exact
    way. Either is the text to store: Postgres keeps the same value."""
    try:
        # Integers beyond 2**53 raise here: the canonical form may write them as text.
        text = orjson.dumps(value, default=default, option=_WRITE_ONCE)
    except orjson.JSONEncodeError:
        return orjson.dumps(value, default=default).decode()  # or its error, as before
    if text[:1] not in (b"{", b"[") or _may_hold_integral_float(text):
        return text.decode()
    return CanonicalJson(text.decode())


def _default(value: Any) -> Any:
    # orjson calls this only for types it does not encode itself.
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime):
        if value.tzinfo is UTC and value.microsecond:
            # The same text, 3.5x faster: orjson writes UTC as +00:00 and leaves out only
            # a zero microsecond part, which isoformat's timespec keeps.
            return orjson.dumps(value)[1:-1].decode()
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def canonical_bytes(
    stream: str,
    columns: Sequence[str],
    json_columns: frozenset[str],
    values: Sequence[Any],
    chain_id: uuid.UUID | str,  # a str: the uuid as str() writes it
    seq: int,
    prev_hash: bytes,
    omit_null: frozenset[str] = frozenset(),
) -> bytes:
    entry: dict[str, Any] = dict(zip(columns, values, strict=True))
    for column in omit_null:
        if entry[column] is None:
            del entry[column]
    for column in json_columns:
        value = entry.get(column)
        if type(value) is CanonicalJson:
            entry[column] = orjson.Fragment(value.encode())  # orjson takes exact str or bytes
        elif value is not None:
            entry[column] = _parsed_json(value)
    entry["_stream"] = stream
    entry["_chain_id"] = str(chain_id)
    entry["_seq"] = seq
    entry["_prev_hash"] = prev_hash.hex()
    return orjson.dumps(
        entry, default=_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    )
