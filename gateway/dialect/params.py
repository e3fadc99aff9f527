"""Reading exchange-style parameters from raw query strings and form bodies.

The signature covers the raw bytes, so parsing keeps the raw text alongside the values and
never re-encodes. A parameter given twice is reported, not silently resolved: which copy
the exchange would use is exactly what an attacker would like to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote_plus

SIGNATURE = "signature"
_DECIMAL = re.compile(r"^-?\d{1,20}(\.\d{1,18})?$")


@dataclass(frozen=True)
class RawParams:
    values: dict[str, str]
    duplicates: tuple[str, ...]
    signed_payload: str  # the raw text the client signed: every pair but `signature`
    signature: str | None


class MalformedEncoding(ValueError):
    pass


def read_params(raw: str) -> RawParams:
    values: dict[str, str] = {}
    duplicates: list[str] = []
    signed: list[str] = []
    signature: str | None = None
    for piece in raw.split("&") if raw else ():
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:  # most pieces need no decoding: skip the call
            try:
                key, value = unquote_plus(key, errors="strict"), unquote_plus(value, errors="strict")
            except UnicodeDecodeError as exc:
                raise MalformedEncoding(f"parameter {key[:40]!r} is not valid UTF-8") from exc
        if key == SIGNATURE:
            if signature is not None:
                duplicates.append(key)
            signature = value
            continue
        signed.append(piece)
        if key in values:
            duplicates.append(key)
        else:
            values[key] = value
    return RawParams(values, tuple(duplicates), "&".join(signed), signature)


def parse_decimal(text: str) -> Decimal | None:
    """A plain decimal as exchanges write them: no exponent, no NaN, bounded length."""
    if not _DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None
