"""Sanctioned addresses: a dated, immutable snapshot of a list, and matching against it.

A snapshot is identified by the SHA-256 of its content (asset and address, one a line,
sorted), so the decision that used it can name it and a newer list is a new id. A
snapshot never changes; a newer one simply replaces it, and an address it no longer holds
is delisted (OFAC removed the Tornado Cash contracts in March 2025; the packaged snapshot
of September 2024 still lists them).

Matching follows each address format's own case rules:
- EVM (`0x` + 40 hex): case carries only the EIP-55 checksum, so compare lower-cased; a
  `0x` string with anything but hex digits after it is malformed.
- bech32 (`bc1…`, `ltc1…`, testnets): case-insensitive, but BIP-173 forbids mixed case;
  all-lower or all-upper is valid (compared lower-cased), mixed case or a bad checksum is
  malformed. Bitcoin Cash cashaddr (`q…`/`p…`, `bitcoincash:` prefix optional) likewise.
- base58 (Bitcoin legacy `1…`/`3…`, Tron `T…`, Monero `4…`/`8…`, XRP `r…`, Litecoin,
  Dash, Zcash `t1…`): case is part of the encoding; compared exactly.
- anything else is compared exactly (a format this module does not know is not refused:
  refusing it would block withdrawals of whole chains; exact comparison cannot miss a
  listed spelling of it).

An address is matched against every asset's list, whatever asset is moved: one EVM key
controls the same address on Ethereum, BSC and Arbitrum, and a listed Tron address stays
the sanctioned person's whichever token is sent to it. The asset named by the caller is
recorded with the match, not used to narrow it (fail closed).
"""

from __future__ import annotations

import enum
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Literal

from aml import bech32
from aml.findings import AmlFinding, AmlReason

SANCTIONS_RULE_ID = "aml.sanctions.ofac_sdn"
SANCTIONS_CITATION = (
    "OFAC Specially Designated Nationals and Blocked Persons List, 'Digital Currency Address' "
    "entries <https://home.treasury.gov/policy-issues/financial-sanctions/"
    "specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists>"
)
# Longer than any address format in use (Monero integrated addresses are 106).
MAX_ADDRESS_LENGTH = 128

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX_BODY = re.compile(r"^0x[0-9a-fA-F]+$")
_BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{25,110}$")
_BECH32_CHARSET = bech32.CHARSET
_BECH32_HRPS = ("bc", "tb", "bcrt", "ltc", "tltc")
_CASHADDR_PREFIX = "bitcoincash:"
_CASHADDR = re.compile(rf"^[qp][{_BECH32_CHARSET}]{{41}}$")
# Chains whose addresses are exactly 20 bytes: anything else after `0x` is a typo there.
# The upstream lists name Bitcoin XBT; exchanges call it BTC.
LIST_ASSET_ALIASES: Mapping[str, str] = MappingProxyType({"BTC": "XBT"})
EVM_NETWORKS = frozenset({"ETH", "ERC20", "BSC", "BEP20", "ARB", "ARBITRUM", "ETC"})


class AddressFormat(enum.StrEnum):
    EVM = "evm"
    HEX = "hex"  # 0x + hex of another length (Aptos, Sui): compared lower-cased
    BECH32 = "bech32"
    CASHADDR = "cashaddr"
    BASE58 = "base58"
    OPAQUE = "opaque"


class MalformedAddress(ValueError):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address!r}: {reason}")
        self.address = address
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NormalisedAddress:
    format: AddressFormat
    key: str  # the form compared with the list


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
    if len(lower) > 90 or len(data) < 6 or any(ch not in _BECH32_CHARSET for ch in data):
        return "not a bech32 address: bad length or character"
    if bech32.checksum(hrp, data) not in (bech32.BECH32, bech32.BECH32M):
        return "bech32 checksum does not verify"
    return None


def _hex(address: str, network: str | None) -> NormalisedAddress:
    if _EVM.match(address):
        return NormalisedAddress(AddressFormat.EVM, address.lower())
    if not _HEX_BODY.match(address):
        raise MalformedAddress(address, "0x address with characters that are not hex digits")
    if network in EVM_NETWORKS:
        raise MalformedAddress(address, f"{network} addresses are 0x and 40 hex digits")
    return NormalisedAddress(AddressFormat.HEX, address.lower())


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


def normalise(address: str, network_or_asset: str | None = None) -> NormalisedAddress:
    """The form an address is compared in, or `MalformedAddress`."""
    if not address or len(address) > MAX_ADDRESS_LENGTH:
        raise MalformedAddress(address[:MAX_ADDRESS_LENGTH], "empty or too long")
    if not address.isascii() or not address.isprintable() or " " in address:
        raise MalformedAddress(address, "addresses are printable ASCII without spaces")
    network = network_or_asset.upper() if network_or_asset else None
    lower = address.lower()
    if lower.startswith("0x"):
        if not address.startswith("0x"):
            raise MalformedAddress(address, "the hex prefix is a lower-case 0x")
        return _hex(address, network)
    if _claims_bech32(address):
        return _bech32(address)
    if lower.startswith(_CASHADDR_PREFIX):
        body = address[len(_CASHADDR_PREFIX) :]
        if address not in (lower, address.upper()) or not _CASHADDR.match(body.lower()):
            raise MalformedAddress(address, "not a cashaddr address (or in mixed case)")
        return NormalisedAddress(AddressFormat.CASHADDR, body.lower())
    if address in (lower, address.upper()) and _CASHADDR.match(lower):
        return NormalisedAddress(AddressFormat.CASHADDR, lower)
    if _BASE58.match(address):
        return NormalisedAddress(AddressFormat.BASE58, address)
    return NormalisedAddress(AddressFormat.OPAQUE, address)


@dataclass(frozen=True, slots=True)
class Match:
    address: str  # as given
    key: str
    format: AddressFormat
    listed_as: tuple[str, ...]  # the list's own spelling(s)
    assets: tuple[str, ...]  # the lists that hold it
    snapshot_id: str
    queried_asset: str | None

    @property
    def on_queried_asset(self) -> bool:
        if self.queried_asset is None:
            return False
        asset = self.queried_asset.upper()
        return LIST_ASSET_ALIASES.get(asset, asset) in self.assets


@dataclass(frozen=True)
class AddressList:
    """One dated snapshot of a list; immutable. Build with `from_lists`."""

    id: str  # "sha256:<hex>" of the content
    source: str
    as_of: date
    addresses: Mapping[str, tuple[str, ...]] = field(repr=False)  # asset → addresses as published
    # key → ((asset, listed spelling), ...)
    _index: Mapping[str, tuple[tuple[str, str], ...]] = field(repr=False)

    @classmethod
    def from_lists(cls, lists: Mapping[str, Iterable[str]], *, source: str, as_of: date) -> AddressList:
        """Every entry must normalise: a malformed line in a list is a broken list."""
        addresses: dict[str, tuple[str, ...]] = {}
        index: dict[str, list[tuple[str, str]]] = {}
        for asset in sorted(lists):
            entries = tuple(sorted({a.strip() for a in lists[asset] if a.strip()}))
            addresses[asset] = entries
            for entry in entries:
                key = normalise(entry).key
                index.setdefault(key, []).append((asset, entry))
        content = "".join(f"{asset}\t{entry}\n" for asset, entries in addresses.items() for entry in entries)
        return cls(
            id="sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest(),
            source=source,
            as_of=as_of,
            addresses=MappingProxyType(addresses),
            _index=MappingProxyType({k: tuple(v) for k, v in index.items()}),
        )

    def __len__(self) -> int:
        """Distinct addresses (as compared), across every asset."""
        return len(self._index)

    def is_listed(self, address: str, network_or_asset: str | None = None) -> Match | None:
        """The match, None when not listed; `MalformedAddress` when it cannot be screened."""
        normalised = normalise(address, network_or_asset)
        hits = self._index.get(normalised.key)
        if not hits:
            return None
        return Match(
            address=address,
            key=normalised.key,
            format=normalised.format,
            listed_as=tuple(sorted({spelling for _, spelling in hits})),
            assets=tuple(sorted({asset for asset, _ in hits})),
            snapshot_id=self.id,
            queried_asset=network_or_asset,
        )

    def delisted_since(self, older: AddressList) -> frozenset[str]:
        """Keys listed in `older` and absent from this snapshot."""
        return frozenset(older._index) - frozenset(self._index)


_FILE = re.compile(r"^sanctioned_addresses_([A-Z0-9]+)\.txt$")


def snapshot_from_files(files: Mapping[str, str], *, source: str, as_of: date) -> AddressList:
    """Build a snapshot from the upstream files' names and text (one address a line)."""
    lists: dict[str, list[str]] = {}
    for name, text in files.items():
        found = _FILE.match(name)
        if found:
            lists[found.group(1)] = text.splitlines()
    if not lists:
        raise ValueError("no sanctioned_addresses_<ASSET>.txt files in the snapshot")
    return AddressList.from_lists(lists, source=source, as_of=as_of)


def load_packaged_snapshot() -> AddressList:
    """The snapshot shipped in aml/data/sanctions (see SOURCE.md there)."""
    base = resources.files("aml") / "data" / "sanctions"
    manifest = tomllib.loads((base / "snapshot.toml").read_text(encoding="utf-8"))
    directory = base / str(manifest["directory"])
    files = {item.name: item.read_text(encoding="utf-8") for item in directory.iterdir() if item.is_file()}
    as_of = manifest["as_of"]
    if not isinstance(as_of, date):
        raise ValueError("snapshot.toml: as_of must be a date")
    return snapshot_from_files(files, source=str(manifest["source"]), as_of=as_of)


def screen_address(
    snapshot: AddressList,
    address: str,
    *,
    direction: Literal["withdrawal", "deposit"],
    asset: str | None = None,
) -> AmlFinding | None:
    """A withdrawal to, or a deposit from, a listed address: deny and report (STR).

    An address that cannot be screened is refused too: it is the one thing that must
    not pass unchecked. Every finding names the snapshot used.
    """
    try:
        match = snapshot.is_listed(address, asset)
    except MalformedAddress as exc:
        return AmlFinding(
            rule_id=SANCTIONS_RULE_ID,
            outcome="deny",
            reason=AmlReason.ADDRESS_MALFORMED,
            message=f"the {direction} address cannot be screened: {exc.reason}",
            values={"direction": direction, "asset": asset, "snapshot_id": snapshot.id},
            citation=SANCTIONS_CITATION,
        )
    if match is None:
        return None
    preposition = "to" if direction == "withdrawal" else "from"
    return AmlFinding(
        rule_id=SANCTIONS_RULE_ID,
        outcome="deny",
        reason=AmlReason.SANCTIONED_ADDRESS,
        message=f"{direction} {preposition} an address on the sanctions list ({', '.join(match.assets)})",
        values={
            "direction": direction,
            "asset": asset,
            "address": address,
            "listed_as": list(match.listed_as),
            "listed_for": list(match.assets),
            "format": match.format.value,
            "snapshot_id": snapshot.id,
            "snapshot_as_of": snapshot.as_of.isoformat(),
            "snapshot_source": snapshot.source,
        },
        citation=SANCTIONS_CITATION,
        report="STR",
    )
