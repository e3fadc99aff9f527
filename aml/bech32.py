"""Bech32 (BIP-173) and bech32m (BIP-350), and the segwit address rules on top of them;
shared by sanctions screening (is the address well formed?) and ownership proofs (which
witness program does it carry?).

Our own code rather than a library: the PyPI reference package (`bech32`) is unmaintained
since 2020 and untyped, and this is forty lines. The official vectors of both BIPs are in
tests/aml/test_address_bech32.py.
"""

from __future__ import annotations

from dataclasses import dataclass

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32 = 1  # what a valid bech32 address's checksum gives
BECH32M = 0x2BC830A3  # ... and a valid bech32m one's
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# BIP-173: at most 90 characters. Zcash unified addresses lift the limit (ZIP-316), so
# decode() takes another one where a caller needs it.
MAX_LENGTH = 90
_CHECKSUM_LENGTH = 6
_SEGWIT_MAX_VERSION = 16
_SEGWIT_V0_PROGRAM_LENGTHS = (20, 32)  # P2WPKH, P2WSH (BIP-141)
_SEGWIT_PROGRAM_LENGTHS = range(2, 41)


def checksum(hrp: str, data_part: str) -> int:
    """BIP-173's polymod over a lower-case address's human part and data characters (all in
    CHARSET): BECH32 or BECH32M when the address is valid in that encoding."""
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _polymod(values + [CHARSET.index(c) for c in data_part])


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATORS):
            if (top >> i) & 1:
                check ^= generator
    return check


@dataclass(frozen=True, slots=True)
class Decoded:
    hrp: str  # lower case
    data: tuple[int, ...]  # five-bit values, checksum removed
    encoding: int  # BECH32 or BECH32M


def decode(text: str, *, max_length: int = MAX_LENGTH) -> Decoded | None:
    """A bech32 or bech32m string's parts, or None (bad character, mixed case, no separator,
    empty human part, short or wrong checksum, too long)."""
    if len(text) > max_length or any(not 33 <= ord(c) <= 126 for c in text):
        return None
    if text not in (text.lower(), text.upper()):
        return None
    lower = text.lower()
    hrp, separator, data_part = lower.rpartition("1")
    if not separator or not hrp or len(data_part) < _CHECKSUM_LENGTH:
        return None
    if any(c not in CHARSET for c in data_part):
        return None
    encoding = checksum(hrp, data_part)
    if encoding not in (BECH32, BECH32M):
        return None
    data = tuple(CHARSET.index(c) for c in data_part[:-_CHECKSUM_LENGTH])
    return Decoded(hrp, data, encoding)


def encode(hrp: str, data: list[int], encoding: int) -> str:
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _polymod(values + data + [0] * _CHECKSUM_LENGTH) ^ encoding
    check = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + check)


def convert_bits(
    data: list[int] | tuple[int, ...] | bytes, from_bits: int, to_bits: int, *, pad: bool
) -> list[int] | None:
    """Regroup bits (8 → 5 to encode, 5 → 8 to decode). Decoding (pad=False) refuses more
    than from_bits - 1 leftover bits or leftover bits that are not zero (BIP-173)."""
    accumulator, bits, out = 0, 0, []
    top = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            return None
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & top)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & top)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & top:
        return None
    return out


@dataclass(frozen=True, slots=True)
class WitnessProgram:
    version: int
    program: bytes


def decode_segwit(hrp: str, address: str) -> WitnessProgram | None:
    """A segwit address for human part `hrp` (BIP-173, BIP-350): version 0 in bech32 with a
    20- or 32-byte program, versions 1 to 16 in bech32m with 2 to 40 bytes; else None."""
    decoded = decode(address)
    if decoded is None or decoded.hrp != hrp or not decoded.data:
        return None
    version = decoded.data[0]
    program = convert_bits(decoded.data[1:], 5, 8, pad=False)
    if version > _SEGWIT_MAX_VERSION or program is None or len(program) not in _SEGWIT_PROGRAM_LENGTHS:
        return None
    if version == 0 and (decoded.encoding != BECH32 or len(program) not in _SEGWIT_V0_PROGRAM_LENGTHS):
        return None
    if version != 0 and decoded.encoding != BECH32M:
        return None
    return WitnessProgram(version, bytes(program))


def encode_segwit(hrp: str, version: int, program: bytes) -> str | None:
    """The address of a witness program, or None when it would not decode back (BIP rules)."""
    words = convert_bits(program, 8, 5, pad=True)
    if words is None:
        return None
    address = encode(hrp, [version, *words], BECH32 if version == 0 else BECH32M)
    return address if decode_segwit(hrp, address) == WitnessProgram(version, program) else None
