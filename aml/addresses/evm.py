"""Accounts that are the last 20 bytes of a secp256k1 key's Keccak-256: EVM chains (`0x` and
40 hex digits, EIP-55 mixed-case checksum) and Tron (the same 20 bytes after a 0x41 byte,
written in Base58Check as `T…` or in hex as `41…`).
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from aml.addresses import base58

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
TRON_VERSION = 0x41
_TRON_HEX = re.compile(r"^(?:0x)?41[0-9a-fA-F]{40}$")
_ACCOUNT_LENGTH = 20


def eip55(address: str) -> str:
    """The EIP-55 spelling of a `0x` address: a hex letter is upper case where the matching
    nibble of Keccak-256 of the lower-case hex is 8 or more."""
    hex_digits = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=hex_digits.encode("ascii")).hexdigest()
    nibbles = digest[: len(hex_digits)]
    spelled = (c.upper() if int(d, 16) >= 8 else c for c, d in zip(hex_digits, nibbles, strict=True))
    return "0x" + "".join(spelled)


def checksum_problem(address: str) -> str | None:
    """Why a `0x` address fails EIP-55, or None. All-lower and all-upper carry no checksum."""
    body = address[2:]
    if body in (body.lower(), body.upper()) or eip55(address) == address:
        return None
    return "EIP-55 checksum does not verify (a mixed-case 0x address carries one)"


def tron_from_hex(text: str) -> str | None:
    """The `T…` form of a Tron hex address (`41` and 40 hex digits, `0x` optional), or None."""
    if not _TRON_HEX.match(text):
        return None
    return base58.encode_check(bytes.fromhex(text.removeprefix("0x")))


def tron_account(address: str) -> bytes | None:
    """The 20-byte account of a `T…` address, or None."""
    payload = base58.decode_check(address)
    if payload is None or len(payload) != 1 + _ACCOUNT_LENGTH or payload[0] != TRON_VERSION:
        return None
    return payload[1:]
