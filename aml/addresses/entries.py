"""Checking a list's entries before it is stored, so an operator knows exactly what is and
is not screened.

Every entry is validated against its network (aml/addresses/networks.py) and normalised
to the key it is matched by. The answer holds, per entry, either the stored form or a
problem naming the entry, and counts: valid entries per network, entries stored for exact
matching only (no network, or one not known here), and entries that look case-folded.

A case-folded source (public mirrors that lower-case every address) is named as such: a
lower-cased base58 address fails its checksum and can never match what users send, so it
is a problem, "case-folded", never silently stored. Restoring the case is not attempted:
with some 25 letters an address has tens of millions of candidate spellings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aml.addresses import cashaddr, evm, networks
from aml.addresses.matching import normalise
from aml.addresses.model import MalformedAddress, NormalisedAddress

CASE_FOLDED = "case-folded (lower-cased base58 cannot be checked or matched)"
# What a lower-cased base58 string is made of (base58 has no 0; lower-casing adds l, o, i).
_FOLDED = re.compile(r"^[1-9a-z]+$")
# Forms that are case-insensitive by definition: lower case is their normal spelling.
_CASE_INSENSITIVE_PREFIXES = ("0x", "bc1", "ltc1", "zs1", "u1", cashaddr.MAINNET_PREFIX + ":")
_CASHADDR_BODY_LENGTH = 42


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    address: str  # as published
    network: str | None  # as published
    normalised: NormalisedAddress  # what is stored and matched (its keys)
    validated_as: str | None  # the chain it was validated as; None: stored for exact matching
    kind: str | None  # the address type on that chain ("p2pkh", "segwit v0", ...)
    note: str | None = None  # e.g. valid on another network than the one published


@dataclass(frozen=True, slots=True)
class EntryProblem:
    index: int
    address: str
    network: str | None
    problem: str
    case_folded: bool = False


@dataclass(frozen=True)
class EntriesCheck:
    stored: tuple[StoredEntry, ...]
    problems: tuple[EntryProblem, ...]
    valid_by_network: Mapping[str, int]  # by the network as published (upper case)
    exact_only: int  # no network, or one not known here: stored for exact matching
    case_folded: int
    other_network: int = 0  # valid addresses of another network than the one published

    @property
    def accepted(self) -> bool:
        return not self.problems

    def notes(self) -> tuple[str, ...]:
        """What an operator must read in the load's answer, beyond the counts."""
        notes = []
        if self.case_folded:
            notes.append(f"source looks case-folded: {self.case_folded} entries")
        if self.other_network:
            notes.append(
                f"{self.other_network} entries are addresses of another network than the one published: "
                "stored and matched as that network's"
            )
        if self.exact_only:
            notes.append(
                f"{self.exact_only} entries have no network known here: stored for exact matching only, "
                "not validated"
            )
        return tuple(notes)


def check_entry(index: int, address: str, network: str | None) -> StoredEntry | EntryProblem:
    name = network.upper() if network else None
    verdict = networks.validate(address, name) if name else None
    note = None
    if isinstance(verdict, networks.Invalid):
        if _looks_case_folded(address):
            return EntryProblem(index, address, network, CASE_FOLDED, case_folded=True)
        elsewhere = networks.identify(address)
        if elsewhere is None:
            return EntryProblem(index, address, network, verdict.problem)
        note = f"published as {name}, valid as {elsewhere.chain} ({elsewhere.kind})"
        verdict = elsewhere
    if verdict is None and evm.EVM_ADDRESS.match(address):
        problem = evm.checksum_problem(address)  # mixed-case 0x is EIP-55 on any chain
        if problem is not None:
            return EntryProblem(index, address, network, problem)
    try:
        normalised = normalise(address)
    except MalformedAddress as exc:
        return EntryProblem(index, address, network, exc.reason)
    if verdict is None:
        return StoredEntry(index, address, network, normalised, None, None)
    return StoredEntry(index, address, network, normalised, verdict.chain, verdict.kind, note)


def check_entries(entries: Iterable[tuple[int, str, str | None]]) -> EntriesCheck:
    """Each (index, address, network-or-None) checked; the counts the load's answer gives."""
    stored: list[StoredEntry] = []
    problems: list[EntryProblem] = []
    for index, address, network in entries:
        result = check_entry(index, address, network)
        if isinstance(result, StoredEntry):
            stored.append(result)
        else:
            problems.append(result)
    valid = Counter((e.network or "").upper() for e in stored if e.validated_as and e.note is None)
    return EntriesCheck(
        stored=tuple(stored),
        problems=tuple(problems),
        valid_by_network=MappingProxyType(dict(sorted(valid.items()))),
        exact_only=sum(1 for e in stored if e.validated_as is None),
        case_folded=sum(1 for p in problems if p.case_folded),
        other_network=sum(1 for e in stored if e.note is not None),
    )


def _looks_case_folded(address: str) -> bool:
    """All lower case, base58's characters, and not a form whose normal spelling is lower case."""
    if not _FOLDED.match(address) or address.startswith(_CASE_INSENSITIVE_PREFIXES):
        return False
    is_cashaddr_body = len(address) == _CASHADDR_BODY_LENGTH and address[0] in "qp"
    return not is_cashaddr_body
