"""Deterministic, plausible-looking deposit addresses.

Derived from a hash of (customer, coin, network), so the same customer always gets the same
address and no address is a real one (in particular never a sanctioned one). They are not
checksum-valid on their chains; they only look right and match the catalogue's regexes.
Ripple works as on real exchanges: one shared address per network, the customer is told
apart by the destination tag. KRW's "address" is a virtual account number at the exchange's
bank, one per customer, as Korean banks issue them for incoming transfers.
"""

from __future__ import annotations

import hashlib
from typing import Final

from exchange.catalog import AddressKind, NetworkSpec

_BECH32: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_RIPPLE58: Final = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
_MONERO_SECOND: Final = "0123456789AB"
_DECIMAL: Final = "0123456789"
_TAG_SPACE: Final = 10**9
_VIRTUAL_ACCOUNT_DIGITS: Final = 14


def _digits(seed: str, alphabet: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha512(seed.encode()).digest(), "big")
    out = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def deposit_address(customer_id: str, coin: str, network: NetworkSpec) -> tuple[str, str]:
    """(address, tag) for a customer's deposits of `coin` on `network`; tag may be ""."""
    seed = f"mock-exchange|{customer_id}|{coin}|{network.network}"
    kind = network.kind
    if kind is AddressKind.BITCOIN:
        return "bc1q" + _digits(seed, _BECH32, 38), ""
    if kind is AddressKind.EVM:
        return "0x" + hashlib.sha256(seed.encode()).hexdigest()[:40], ""
    if kind is AddressKind.TRON:
        return "T" + _digits(seed, _BASE58, 33), ""
    if kind is AddressKind.MONERO:
        return "4" + _digits(seed + "|2", _MONERO_SECOND, 1) + _digits(seed, _BASE58, 93), ""
    if kind is AddressKind.BANK_ACCOUNT:
        return _virtual_account(seed), ""
    shared = "r" + _digits(f"mock-exchange|hot|{coin}|{network.network}", _RIPPLE58, 33)
    tag = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % _TAG_SPACE
    return shared, str(tag + 1)  # tags never start with 0 (see MEMO_REGEX)


def _virtual_account(seed: str) -> str:
    """14 digits written 3-6-5, a common shape of Korean virtual account numbers."""
    d = _digits(seed, _DECIMAL, _VIRTUAL_ACCOUNT_DIGITS)
    return f"{d[:3]}-{d[3:9]}-{d[9:]}"
