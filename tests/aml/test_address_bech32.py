"""aml/bech32.py against the official vectors of BIP-173 (bech32) and BIP-350 (bech32m)."""

from __future__ import annotations

import pytest

from aml import bech32

VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
INVALID_BECH32 = [
    ("hrp-character-out-of-range-space", " 1nwldj5"),
    ("hrp-character-out-of-range-del", "\x7f1axkwrx"),
    ("hrp-character-out-of-range-0x80", "\x801eym55h"),
    (
        "overall-max-length-exceeded",
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    ),
    ("no-separator", "pzry9x0s0muk"),
    ("empty-hrp", "1pzry9x0s0muk"),
    ("invalid-data-character", "x1b4n0q5v"),
    ("too-short-checksum", "li1dgmt3"),
    ("invalid-character-in-checksum", "de1lg7wt\xff"),
    ("checksum-with-upper-case-hrp", "A1G7SGD8"),
    ("empty-hrp-2", "10a06t8"),
    ("empty-hrp-3", "1qzzfhee"),
]
INVALID_BECH32M = [
    ("hrp-character-out-of-range-space", " 1xj0phk"),
    ("hrp-character-out-of-range-del", "\x7f1g6xzxy"),
    ("hrp-character-out-of-range-0x80", "\x801vctc34"),
    (
        "overall-max-length-exceeded",
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    ),
    ("no-separator", "qyrz8wqd2c9m"),
    ("empty-hrp", "1qyrz8wqd2c9m"),
    ("invalid-data-character", "y1b0jsk6g"),
    ("invalid-data-character-2", "lt1igcx5c0"),
    ("too-short-checksum", "in1muywd"),
    ("invalid-character-in-checksum", "mm1crxm3i"),
    ("invalid-character-in-checksum-2", "au1s5cgom"),
    ("checksum-with-upper-case-hrp", "M1VUXWEZ"),
    ("empty-hrp", "16plkw9"),
    ("empty-hrp-2", "1p2gdwpf"),
]
# (address, scriptPubKey hex)
VALID_ADDRESSES = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]
INVALID_ADDRESSES = [
    ("invalid-hrp", "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut"),
    ("v1-in-bech32", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"),
    ("v1-in-bech32-testnet", "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf"),
    ("v16-in-bech32", "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL"),
    ("v0-in-bech32m", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"),
    ("v0-in-bech32m-testnet", "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47"),
    ("invalid-character-in-checksum", "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4"),
    ("invalid-witness-version", "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R"),
    ("program-length-1", "bc1pw5dgrnzv"),
    ("program-length-41", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav"),
    ("v0-program-length-16", "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P"),
    ("mixed-case", "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq"),
    ("more-than-4-padding-bits", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf"),
    ("non-zero-padding", "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j"),
    ("empty-data", "bc1gmk9yu"),
]
INVALID_ENCODINGS = [("BC", 0, 20), ("bc", 0, 21), ("bc", 17, 32), ("bc", 1, 1), ("bc", 16, 41)]


def _flip_first_data_character(text: str) -> str:
    at = text.rfind("1") + 1
    return text[:at] + chr(ord(text[at]) ^ 1) + text[at + 1 :]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(t, bech32.BECH32) for t in VALID_BECH32] + [(t, bech32.BECH32M) for t in VALID_BECH32M],
)
def test_valid_checksums(text: str, encoding: int) -> None:
    decoded = bech32.decode(text)
    assert decoded is not None and decoded.encoding == encoding
    assert bech32.decode(_flip_first_data_character(text)) is None


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(t, bech32.BECH32) for _, t in INVALID_BECH32] + [(t, bech32.BECH32M) for _, t in INVALID_BECH32M],
    ids=[f"bech32-{i}" for i, _ in INVALID_BECH32] + [f"bech32m-{i}" for i, _ in INVALID_BECH32M],
)
def test_invalid_checksums(text: str, encoding: int) -> None:
    decoded = bech32.decode(text)
    assert decoded is None or decoded.encoding != encoding


def _script_pubkey(version: int, program: bytes) -> bytes:
    return bytes([version + 0x50 if version else 0, len(program)]) + program


@pytest.mark.parametrize(("address", "script"), VALID_ADDRESSES, ids=[a for a, _ in VALID_ADDRESSES])
def test_valid_addresses(address: str, script: str) -> None:
    hrp = address[:2].lower()
    found = bech32.decode_segwit(hrp, address)
    assert found is not None
    assert _script_pubkey(found.version, found.program).hex() == script
    assert bech32.encode_segwit(hrp, found.version, found.program) == address.lower()


@pytest.mark.parametrize("address", [a for _, a in INVALID_ADDRESSES], ids=[i for i, _ in INVALID_ADDRESSES])
def test_invalid_addresses(address: str) -> None:
    assert bech32.decode_segwit("bc", address) is None
    assert bech32.decode_segwit("tb", address) is None


@pytest.mark.parametrize(("hrp", "version", "length"), INVALID_ENCODINGS)
def test_invalid_encodings(hrp: str, version: int, length: int) -> None:
    assert bech32.encode_segwit(hrp, version, bytes(length)) is None
