"""Reading exchange-style parameters from raw query strings and form bodies.

The signature covers the raw bytes, so parsing keeps the raw text alongside the values and
never re-encodes. A parameter given twice is reported, not silently resolved: which copy
the exchange would use is exactly what an attacker would like to choose.

The query and the body are read apart. Binance signs "totalParams", the query string
followed directly by the body, with no separator between them; parsing that joined text
would glue the body's first pair onto the query's last value (`x=` + `quantity=0.5` reads
as `x=quantity=0.5`), so the policy would judge other parameters than the exchange runs.
Read apart, the body's `quantity` is a parameter of its own, and a duplicate of the
query's one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote_plus

SIGNATURE = "signature"
# ASCII digits only: `\d` also matches other scripts' digits, which Decimal reads as
# numbers and the exchange refuses.
_DECIMAL = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,18})?$")
# Control characters (C0, DEL, C1) have no use in a parameter, and Postgres refuses NUL in
# text: a row carrying one would fail its whole group-commit batch. The admin edge refuses
# the same set (gateway/http/admin/edge.py).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RawParams:
    values: dict[str, str]
    duplicates: tuple[str, ...]
    signed_payload: str  # the raw text the client signed: query then body, minus `signature`
    signature: str | None


class MalformedEncoding(ValueError):
    pass


class MalformedParameter(ValueError):
    pass


def read_params(query: str, body: str = "") -> RawParams:
    values: dict[str, str] = {}
    duplicates: list[str] = []
    signed: list[str] = []
    signature: str | None = None
    for part in (query, body):
        kept: list[str] = []  # the part's pieces as sent, empty ones too, bar `signature`
        for piece in part.split("&") if part else ():
            if not piece:
                kept.append(piece)
                continue
            key, value = _decoded(piece)
            if key == SIGNATURE:
                if signature is not None:
                    duplicates.append(key)
                signature = value
                continue
            kept.append(piece)
            if key in values:
                duplicates.append(key)
            else:
                values[key] = value
        signed.append("&".join(kept))
    return RawParams(values, tuple(duplicates), "".join(signed), signature)


def _decoded(piece: str) -> tuple[str, str]:
    key, _, value = piece.partition("=")
    if "%" in piece or "+" in piece:  # most pieces need no decoding: skip the call
        try:
            key, value = unquote_plus(key, errors="strict"), unquote_plus(value, errors="strict")
        except UnicodeDecodeError as exc:
            raise MalformedEncoding(f"parameter {key[:40]!r} is not valid UTF-8") from exc
        if CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(value):
            raise MalformedParameter(f"parameter {key[:40]!r} holds a control character")
    elif CONTROL_CHARACTERS.search(piece):
        raise MalformedParameter(f"parameter {key[:40]!r} holds a control character")
    return key, value


def parse_decimal(text: str) -> Decimal | None:
    """A plain decimal as exchanges write them: no exponent, no NaN, bounded length."""
    if not _DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None
