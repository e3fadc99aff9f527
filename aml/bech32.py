"""The bech32 checksum (BIP-173) and its bech32m variant (BIP-350), shared by sanctions
screening (is the address well formed?) and ownership proofs (which witness program does
it carry?)."""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32 = 1  # what a valid bech32 address's checksum gives
BECH32M = 0x2BC830A3  # ... and a valid bech32m one's
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def checksum(hrp: str, data_part: str) -> int:
    """BIP-173's polymod over a lower-case address's human part and data characters (all in
    CHARSET): BECH32 or BECH32M when the address is valid in that encoding."""
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [CHARSET.index(c) for c in data_part]
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATORS):
            if (top >> i) & 1:
                check ^= generator
    return check
