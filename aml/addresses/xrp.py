"""XRP Ledger accounts: classic `r…` addresses (Base58Check in the ripple alphabet, version
0x00, a 20-byte account id) and X-addresses (XLS-5d), which pack the account id with a
destination tag. The tag routes a payment inside an account (an exchange's customer); it
does not change whose account it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from aml.addresses import base58

_ACCOUNT_VERSION = 0x00
_ACCOUNT_ID_LENGTH = 20
# XLS-5d: two prefix bytes (main net, test net), the account id, a flag byte (0: no tag,
# 1: a 32-bit tag), the tag little-endian, four reserved zero bytes.
_X_PREFIXES = {b"\x05\x44": False, b"\x04\x93": True}
_X_PAYLOAD_LENGTH = 31
_NO_TAG, _TAG32 = 0, 1


def account_id(classic: str) -> bytes | None:
    """The 20-byte account id of a classic address, or None."""
    payload = base58.decode_check(classic, base58.RIPPLE_ALPHABET)
    if payload is None or len(payload) != 1 + _ACCOUNT_ID_LENGTH or payload[0] != _ACCOUNT_VERSION:
        return None
    return payload[1:]


def classic_address(account: bytes) -> str:
    return base58.encode_check(bytes([_ACCOUNT_VERSION]) + account, base58.RIPPLE_ALPHABET)


@dataclass(frozen=True, slots=True)
class XAddress:
    classic: str
    tag: int | None
    test: bool  # a test-net X-address (T…)


def decode_x_address(text: str) -> XAddress | None:
    payload = base58.decode_check(text, base58.RIPPLE_ALPHABET)
    if payload is None or len(payload) != _X_PAYLOAD_LENGTH or payload[:2] not in _X_PREFIXES:
        return None
    account, flag, tag, reserved = payload[2:22], payload[22], payload[23:27], payload[27:]
    if flag not in (_NO_TAG, _TAG32) or any(reserved) or (flag == _NO_TAG and any(tag)):
        return None
    value = int.from_bytes(tag, "little") if flag == _TAG32 else None
    return XAddress(classic_address(account), value, _X_PREFIXES[payload[:2]])


def encode_x_address(classic: str, tag: int | None, *, test: bool = False) -> str | None:
    account = account_id(classic)
    if account is None or (tag is not None and not 0 <= tag < 2**32):
        return None
    prefix = next(p for p, is_test in _X_PREFIXES.items() if is_test == test)
    flag = _NO_TAG if tag is None else _TAG32
    body = prefix + account + bytes([flag]) + (tag or 0).to_bytes(4, "little") + bytes(4)
    return base58.encode_check(body, base58.RIPPLE_ALPHABET)
