"""Bitcoin Cash's cashaddr (spec: bitcoincash.org spec/cashaddr.md): `bitcoincash:` then a
version byte and a hash in the bech32 alphabet, with its own 40-bit polymod. A cashaddr
P2PKH/P2SH address and a legacy `1…`/`3…` address with the same 20-byte hash are the same
address, so both compare by the legacy form.

Our own code: the PyPI packages for it (`cashaddress`, `bitcash`) are unmaintained or
pull in a whole wallet; the spec's vectors are in tests/aml/test_address_cashaddr.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from aml import bech32
from aml.addresses import base58

MAINNET_PREFIX = "bitcoincash"
_GENERATORS = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)
_CHECKSUM_CHARS = 8
_HASH_SIZES = (20, 24, 28, 32, 40, 48, 56, 64)  # by the version byte's low three bits
P2PKH, P2SH = 0, 1
# The legacy Base58Check version bytes of the same two kinds on mainnet.
LEGACY_VERSIONS = {P2PKH: 0x00, P2SH: 0x05}
_LEGACY_HASH_LENGTH = 20


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 35
        check = ((check & 0x07FFFFFFFF) << 5) ^ value
        for i, generator in enumerate(_GENERATORS):
            if (top >> i) & 1:
                check ^= generator
    return check ^ 1


def _prefix_values(prefix: str) -> list[int]:
    return [ord(c) & 31 for c in prefix] + [0]


def checksum_verifies(prefix: str, payload: str) -> bool:
    """The spec's polymod over a lower-case prefix and payload (checksum included)."""
    if not prefix or any(c not in bech32.CHARSET for c in payload):
        return False
    return _polymod(_prefix_values(prefix) + [bech32.CHARSET.index(c) for c in payload]) == 0


@dataclass(frozen=True, slots=True)
class CashAddress:
    prefix: str
    type: int  # P2PKH, P2SH, or another type number
    hash: bytes


def decode(text: str, default_prefix: str = MAINNET_PREFIX) -> CashAddress | None:
    """A cashaddr (prefix optional: `default_prefix` is assumed), or None: mixed case, a
    character outside the alphabet, a checksum that does not verify, a bad version byte."""
    if text not in (text.lower(), text.upper()) or not text.isascii():
        return None
    lower = text.lower()
    prefix, separator, payload = lower.rpartition(":")
    prefix = prefix if separator else default_prefix
    if len(payload) <= _CHECKSUM_CHARS or not checksum_verifies(prefix, payload):
        return None
    words = [bech32.CHARSET.index(c) for c in payload]
    raw = bech32.convert_bits(words[:-_CHECKSUM_CHARS], 5, 8, pad=False)
    if not raw:
        return None
    version, hash_ = raw[0], bytes(raw[1:])
    if version & 0x80 or len(hash_) != _HASH_SIZES[version & 0x07]:
        return None
    return CashAddress(prefix, (version >> 3) & 0x0F, hash_)


def encode(prefix: str, type_: int, hash_: bytes) -> str:
    version = (type_ << 3) | _HASH_SIZES.index(len(hash_))
    words = bech32.convert_bits(bytes([version]) + hash_, 8, 5, pad=True) or []
    polymod = _polymod(_prefix_values(prefix) + words + [0] * _CHECKSUM_CHARS)
    check = [(polymod >> 5 * (_CHECKSUM_CHARS - 1 - i)) & 31 for i in range(_CHECKSUM_CHARS)]
    return prefix + ":" + "".join(bech32.CHARSET[w] for w in words + check)


def to_legacy(address: CashAddress) -> str | None:
    """The legacy Base58Check form of a mainnet P2PKH/P2SH cashaddr; None for other kinds."""
    version = LEGACY_VERSIONS.get(address.type)
    if address.prefix != MAINNET_PREFIX or version is None or len(address.hash) != _LEGACY_HASH_LENGTH:
        return None
    return base58.encode_check(bytes([version]) + address.hash)


def from_legacy(legacy: str) -> str | None:
    """The cashaddr of a legacy `1…`/`3…` address; None when it is not one."""
    payload = base58.decode_check(legacy)
    kinds = {version: kind for kind, version in LEGACY_VERSIONS.items()}
    if payload is None or len(payload) != 1 + _LEGACY_HASH_LENGTH or payload[0] not in kinds:
        return None
    return encode(MAINNET_PREFIX, kinds[payload[0]], payload[1:])
