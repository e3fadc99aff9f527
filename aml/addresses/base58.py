"""Base58 as the chains use it: Base58Check (Bitcoin and its forks, Tron, Zcash; XRP with
its own alphabet) and Monero's block-wise base58 with a Keccak checksum.

Base58Check comes from the `base58` package (the encoding Bitcoin Core specifies, with the
ripple alphabet built in). Monero's variant is not in any well-kept Python package, so it is
here, checked against real Monero addresses in tests/aml/test_address_networks.py.
"""

from __future__ import annotations

import base58
from Crypto.Hash import keccak

BITCOIN_ALPHABET = base58.BITCOIN_ALPHABET.decode("ascii")
RIPPLE_ALPHABET = base58.RIPPLE_ALPHABET.decode("ascii")
_CHECKSUM_LENGTH = 4
# A Base58Check string longer than this is no address (Zcash Sprout's 95 are the longest).
_MAX_CHECK_LENGTH = 111


def decode_check(text: str, alphabet: str = BITCOIN_ALPHABET) -> bytes | None:
    """The payload (version bytes and data) of a Base58Check string, or None when a character
    is outside the alphabet or the checksum does not verify."""
    if not text or len(text) > _MAX_CHECK_LENGTH or any(c not in alphabet for c in text):
        return None  # also keeps the package from forgiving trailing whitespace
    try:
        return base58.b58decode_check(text, alphabet=alphabet.encode("ascii"))
    except ValueError:
        return None


def encode_check(payload: bytes, alphabet: str = BITCOIN_ALPHABET) -> str:
    return base58.b58encode_check(payload, alphabet=alphabet.encode("ascii")).decode("ascii")


# Monero: 8-byte blocks as 11 characters; a shorter last block takes this many characters
# for 0..8 bytes (cryptonote base58.cpp, encoded_block_sizes).
_MONERO_FULL_BLOCK = 8
_MONERO_BLOCK_CHARS = (0, 2, 3, 5, 6, 7, 9, 10, 11)
_MONERO_FULL_CHARS = _MONERO_BLOCK_CHARS[_MONERO_FULL_BLOCK]


def decode_monero(text: str) -> bytes | None:
    """Monero base58 to bytes, checksum included; None when malformed."""
    if any(c not in BITCOIN_ALPHABET for c in text):
        return None
    out = bytearray()
    for start in range(0, len(text), _MONERO_FULL_CHARS):
        block = text[start : start + _MONERO_FULL_CHARS]
        if len(block) not in _MONERO_BLOCK_CHARS or not block:
            return None
        size = _MONERO_BLOCK_CHARS.index(len(block))
        number = 0
        for char in block:
            number = number * 58 + BITCOIN_ALPHABET.index(char)
        if number >> (8 * size):
            return None  # overflows its block: not what an encoder writes
        out += number.to_bytes(size, "big")
    return bytes(out)


def monero_checksum_ok(raw: bytes) -> bool:
    """Monero's checksum: the first four bytes of Keccak-256 of what precedes them."""
    if len(raw) <= _CHECKSUM_LENGTH:
        return False
    body, check = raw[:-_CHECKSUM_LENGTH], raw[-_CHECKSUM_LENGTH:]
    return keccak.new(digest_bits=256, data=body).digest()[:_CHECKSUM_LENGTH] == check
