"""The one form an address is compared in, for list entries and users' input alike.

Each address format keeps its own case rules:
- EVM (`0x` + 40 hex): case carries only the EIP-55 checksum, so compare lower-cased; a
  `0x` string with anything but hex digits after it is malformed.
- bech32 (`bc1…`, `ltc1…`, testnets): case-insensitive, but BIP-173 forbids mixed case;
  all-lower or all-upper is valid (compared lower-cased), mixed case or a bad checksum is
  malformed.
- base58 (Bitcoin legacy `1…`/`3…`, Tron `T…`, Monero `4…`/`8…`, XRP `r…`, Litecoin,
  Dash, Zcash `t1…`): case is part of the encoding; compared exactly.
- anything else is compared exactly (a format this module does not know is not refused:
  refusing it would block withdrawals of whole chains; exact comparison cannot miss a
  listed spelling of it).

Spellings of one account share one key, so each matches the other:
- Tron hex (`41` + 40 hex digits, `0x` optional) is compared as its `T…` form;
- an XRP X-address (XLS-5d) as its classic `r…` address, its tag recorded, not compared;
- a Bitcoin Cash cashaddr (`bitcoincash:` optional; checksum verified) as the legacy
  `1…`/`3…` address with the same hash;
- a payment URI (`bitcoin:ADDR?amount=…`, `ethereum:0x…@1/transfer?address=0x…`) as the
  address it pays; an ERC-20 transfer's token contract is screened as well.

Only printable ASCII can be an address: a homoglyph (a Cyrillic or a full-width letter) or an
invisible character (zero-width space) is malformed, so it can neither match nor slip past.
"""

from __future__ import annotations

import re
from dataclasses import replace

from aml import bech32
from aml.addresses import cashaddr, uri, xrp
from aml.addresses.evm import EVM_ADDRESS, tron_from_hex
from aml.addresses.model import MAX_ADDRESS_LENGTH, AddressFormat, MalformedAddress, NormalisedAddress

_HEX_BODY = re.compile(r"^0x[0-9a-fA-F]+$")
_BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{25,110}$")
_X_ADDRESS = re.compile(r"^X[1-9A-HJ-NP-Za-km-z]{46}$")  # main net only: T… is a test net
_BECH32_HRPS = ("bc", "tb", "bcrt", "ltc", "tltc")
_CASHADDR = re.compile(rf"^[qp][{bech32.CHARSET}]{{41}}$")
# Chains whose addresses are exactly 20 bytes: anything else after `0x` is a typo there.
EVM_NETWORKS = frozenset({"ETH", "ERC20", "BSC", "BEP20", "ARB", "ARBITRUM", "ETC"})


def normalise(address: str, network_or_asset: str | None = None) -> NormalisedAddress:
    """The form an address is compared in, or `MalformedAddress`."""
    _require_plain_text(address)
    network = network_or_asset.upper() if network_or_asset else None
    payment = uri.parse(address)
    if payment is None:
        return _plain(address, network)
    found = _plain(payment.recipient, network)
    if payment.scheme == "bitcoincash" and _CASHADDR.match(payment.recipient.lower()):
        found = _cashaddr(payment.recipient)  # mixed case is malformed, not a base58 look-alike
    if found.format not in payment.formats:
        raise MalformedAddress(address, f"the {payment.scheme}: URI does not name a {payment.scheme} address")
    also = tuple(_plain(other, network).key for other in payment.also)
    return replace(found, also=also)


def _require_plain_text(address: str) -> None:
    if not address or len(address) > MAX_ADDRESS_LENGTH:
        raise MalformedAddress(address[:MAX_ADDRESS_LENGTH], "empty or too long")
    if not address.isascii() or not address.isprintable() or " " in address:
        raise MalformedAddress(address, "addresses are printable ASCII without spaces")


def _plain(address: str, network: str | None) -> NormalisedAddress:
    _require_plain_text(address)  # again: a URI's recipient may have been percent-decoded
    if address.lower().startswith("0x"):
        if not address.startswith("0x"):
            raise MalformedAddress(address, "the hex prefix is a lower-case 0x")
        return _hex(address, network)
    tron = tron_from_hex(address)
    if tron is not None:
        return NormalisedAddress(AddressFormat.BASE58, tron)
    if _claims_bech32(address):
        return _bech32(address)
    if address in (address.lower(), address.upper()) and _CASHADDR.match(address.lower()):
        return _cashaddr(address)
    if _X_ADDRESS.match(address):
        x_address = xrp.decode_x_address(address)
        if x_address is not None:
            return NormalisedAddress(AddressFormat.BASE58, x_address.classic, tag=x_address.tag)
    if _BASE58.match(address):
        return NormalisedAddress(AddressFormat.BASE58, address)
    return NormalisedAddress(AddressFormat.OPAQUE, address)


def _hex(address: str, network: str | None) -> NormalisedAddress:
    if EVM_ADDRESS.match(address):
        return NormalisedAddress(AddressFormat.EVM, address.lower())
    if not _HEX_BODY.match(address):
        raise MalformedAddress(address, "0x address with characters that are not hex digits")
    if network in EVM_NETWORKS:
        raise MalformedAddress(address, f"{network} addresses are 0x and 40 hex digits")
    tron = tron_from_hex(address)
    if tron is not None:
        return NormalisedAddress(AddressFormat.BASE58, tron)
    return NormalisedAddress(AddressFormat.HEX, address.lower())


def _bech32(address: str) -> NormalisedAddress:
    if address not in (address.lower(), address.upper()):
        raise MalformedAddress(address, "bech32 address in mixed case (BIP-173)")
    lower = address.lower()
    problem = _bech32_problem(lower)
    if problem is not None:
        raise MalformedAddress(address, problem)
    return NormalisedAddress(AddressFormat.BECH32, lower)


def _bech32_problem(lower: str) -> str | None:
    """Why a lower-case string is not a valid bech32 (or bech32m) address, or None."""
    hrp, _, data = lower.rpartition("1")
    if len(lower) > bech32.MAX_LENGTH or len(data) < 6 or any(ch not in bech32.CHARSET for ch in data):
        return "not a bech32 address: bad length or character"
    if bech32.checksum(hrp, data) not in (bech32.BECH32, bech32.BECH32M):
        return "bech32 checksum does not verify"
    return None


def _claims_bech32(address: str) -> bool:
    """A lower-case bech32 prefix claims the format (so mixed case after it is malformed).
    An upper-case one does too, unless the string is valid base58 and not valid bech32:
    Tron addresses are base58 and may well begin "TB1", while BC1Q… in capitals (legal
    under BIP-173) with no 0 in it also fits base58, and must still match its listed
    lower-case spelling."""
    prefixes = tuple(f"{hrp}1" for hrp in _BECH32_HRPS)
    if address.startswith(prefixes):
        return True
    if not address.startswith(tuple(p.upper() for p in prefixes)):
        return False
    return not _BASE58.match(address) or _bech32_problem(address.lower()) is None


def _cashaddr(address: str) -> NormalisedAddress:
    decoded = cashaddr.decode(address)
    if decoded is None:
        raise MalformedAddress(address, "not a cashaddr: mixed case, or a checksum that does not verify")
    legacy = cashaddr.to_legacy(decoded)
    return NormalisedAddress(AddressFormat.CASHADDR, legacy if legacy is not None else address.lower())
