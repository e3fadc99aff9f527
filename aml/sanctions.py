"""Sanctioned addresses: a dated, immutable snapshot of a list, and matching against it.

A snapshot is identified by the SHA-256 of its content (asset and address, one a line,
sorted), so the decision that used it can name it and a newer list is a new id. A
snapshot never changes; a newer one simply replaces it, and an address it no longer holds
is delisted (OFAC removed the Tornado Cash contracts in March 2025; the packaged snapshot
of September 2024 still lists them).

How an address is compared (case rules per format, and which spellings of one account
share a key: Tron hex and base58, XRP X-address and classic, cashaddr and legacy, payment
URIs) is aml/addresses/matching.py's; how a list entry is validated against its network
before it is stored is aml/addresses/entries.py's.

An address is matched against every asset's list, whatever asset is moved: one EVM key
controls the same address on Ethereum, BSC and Arbitrum, and a listed Tron address stays
the sanctioned person's whichever token is sent to it. The asset named by the caller is
recorded with the match, not used to narrow it (fail closed).
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Literal

from aml.addresses.matching import EVM_NETWORKS, normalise
from aml.addresses.model import MAX_ADDRESS_LENGTH, AddressFormat, MalformedAddress, NormalisedAddress
from aml.findings import AmlReason, aml_finding, report_request
from policy.decision import Finding, ReportKind

__all__ = [
    "EVM_NETWORKS",
    "LIST_ASSET_ALIASES",
    "MAX_ADDRESS_LENGTH",
    "SANCTIONS_CITATION",
    "SANCTIONS_RULE_ID",
    "AddressFormat",
    "AddressList",
    "MalformedAddress",
    "Match",
    "NormalisedAddress",
    "load_packaged_snapshot",
    "normalise",
    "screen_address",
    "snapshot_from_files",
]

SANCTIONS_RULE_ID = "aml.sanctions.ofac_sdn"
SANCTIONS_CITATION = (
    "OFAC Specially Designated Nationals and Blocked Persons List, 'Digital Currency Address' "
    "entries <https://home.treasury.gov/policy-issues/financial-sanctions/"
    "specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists>"
)
# The upstream lists name Bitcoin XBT; exchanges call it BTC.
LIST_ASSET_ALIASES: Mapping[str, str] = MappingProxyType({"BTC": "XBT"})


# Screening a withdrawal normalises its address (a bech32 checksum is pure-Python
# arithmetic: 2% of a worker's withdrawal CPU); customers send to the same few addresses,
# so the form is kept per (address, network). Frozen results; a malformed address raises
# again each time (exceptions are not cached).
_screened_form = functools.lru_cache(maxsize=4096)(normalise)


@dataclass(frozen=True, slots=True)
class Match:
    address: str  # as given
    key: str
    format: AddressFormat
    listed_as: tuple[str, ...]  # the list's own spelling(s)
    assets: tuple[str, ...]  # the lists that hold it
    snapshot_id: str
    queried_asset: str | None
    tag: int | None = None  # the XRP destination tag the query carried (an X-address)

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
        normalised = _screened_form(address, network_or_asset)
        key = next((k for k in normalised.keys if k in self._index), None)
        if key is None:
            return None
        hits = self._index[key]
        return Match(
            address=address,
            key=key,
            format=normalised.format,
            listed_as=tuple(sorted({spelling for _, spelling in hits})),
            assets=tuple(sorted({asset for asset, _ in hits})),
            snapshot_id=self.id,
            queried_asset=network_or_asset,
            tag=normalised.tag,
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
) -> Finding | None:
    """A withdrawal to, or a deposit from, a listed address: deny and report (STR).

    An address that cannot be screened is refused too: it is the one thing that must
    not pass unchecked. Every finding names the snapshot used.
    """
    try:
        match = snapshot.is_listed(address, asset)
    except MalformedAddress as exc:
        return aml_finding(
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
    return aml_finding(
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
            **({"destination_tag": match.tag} if match.tag is not None else {}),
            "snapshot_id": snapshot.id,
            "snapshot_as_of": snapshot.as_of.isoformat(),
            "snapshot_source": snapshot.source,
        },
        citation=SANCTIONS_CITATION,
        report=report_request(ReportKind.STR),
    )
