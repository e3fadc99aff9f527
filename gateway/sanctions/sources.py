"""Where a sanctions snapshot comes from, and every entry checked before anything is stored.

Formats (`python -m gateway sanctions load PATH --format ...`; inferred from the path when
not given):

- **dir**: the packaged layout (aml/data/sanctions): a directory with `snapshot.toml`
  (`source`, `as_of` as a TOML date, `directory`, and `[[rejected]]` entries known not to
  be addresses) and `sanctioned_addresses_<ASSET>.txt` files, one address a line. A bare
  directory of such files works too when the list name and date are given.
- **json** (the admin API's body, or a `.json` file):

      {"list": "OFAC SDN digital currency addresses",
       "as_of": "2025-03-21",
       "addresses": [{"address": "0x8589427373D6D84E98730D7795D8f6f8731FDA16", "network": "ETH"},
                     {"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}]}

- **ofac-sdn-xml**, **ofac-sdn-csv**, **csv**: see gateway/sanctions/formats.py.

Two kinds of problem. A source that is not a snapshot at all (not JSON, no date, a date in
the future, a network code the table cannot hold, no entries) is a `SnapshotError`. An
entry that is not a valid address of its network (aml/addresses/entries.py) is recorded
in the `CheckedSnapshot`: the load refuses it unless the operator accepts a partial list,
and then the rejected entries are stored with the snapshot, so what is not screened is
on record.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aml.addresses.entries import EntriesCheck, EntryProblem, check_entries
from aml.sanctions import MAX_ADDRESS_LENGTH, AddressList
from gateway.feeds.markets import utcnow
from gateway.sanctions import formats
from gateway.store.sanctions import NO_NETWORK

MANIFEST = "snapshot.toml"
# The whole OFAC list holds some 650 addresses; this bound only stops a runaway document.
MAX_SNAPSHOT_ENTRIES = 100_000
MAX_LIST_NAME = 500
# Problems listed in one answer; the answer always gives how many there are in all.
MAX_PROBLEMS_LISTED = 1000
_NETWORK = r"^[A-Za-z0-9]{1,16}$"
_LIST_CODE = re.compile(r"^[A-Z0-9]{1,16}$")  # as the table's CHECK wants it (migration 0005)
_FILE = re.compile(r"^sanctioned_addresses_([A-Z0-9]+)\.txt$")
# A list dated tomorrow is still plausible across time zones; later than that is a typo.
_AS_OF_LEAD = timedelta(days=1)
_LOAD_OPTIONS = ("accept_partial", "confirm_delisting")


class SourceFormat(enum.StrEnum):
    JSON = "json"
    DIR = "dir"
    OFAC_SDN_XML = "ofac-sdn-xml"
    OFAC_SDN_CSV = "ofac-sdn-csv"
    CSV = "csv"


class SnapshotError(ValueError):
    """The source is not a valid snapshot; nothing was stored. `details` name each problem:
    a list of {field, problem}, or (entries refused) an object with every problem listed."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.details: Any = self.problems


class EntriesRefused(SnapshotError):
    """Entries are not valid addresses and the load did not accept a partial list."""

    def __init__(self, snapshot: CheckedSnapshot, message: str) -> None:
        super().__init__(message)
        self.details = snapshot.problems_json()


@dataclass(frozen=True)
class Source:
    """A list as read, before any entry is judged."""

    list_name: str
    as_of: date
    entries: tuple[tuple[str, str | None], ...]  # (address, network) as published, in order
    # (network, address) -> why: entries the source's own manifest says are not addresses.
    declared_rejections: Mapping[tuple[str | None, str], str] = dataclasses.field(default_factory=dict)


def snapshot_identity(valid: AddressList, rejected: Iterable[tuple[str | None, str]]) -> str:
    """The snapshot's identity: its stored content's hash, extended by the entries it was
    loaded without. A whole list keeps the plain content hash (aml.sanctions); the same
    source less its rejected entries is another snapshot, never the same row."""
    lines = sorted({f"{network or NO_NETWORK}\t{address}\n" for network, address in rejected})
    if not lines:
        return valid.id
    content = valid.id + "\nrejected\n" + "".join(lines)
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CheckedSnapshot:
    """A source with every entry checked: the valid ones as the list to store (its `id`
    the snapshot's identity), the others as problems."""

    addresses: AddressList
    check: EntriesCheck
    entry_count: int
    declared: Mapping[tuple[str | None, str], str]

    @property
    def id(self) -> str:
        return self.addresses.id

    @property
    def rejected(self) -> tuple[EntryProblem, ...]:
        return self.check.problems

    @property
    def undeclared(self) -> tuple[EntryProblem, ...]:
        """The problems the source's manifest does not name as known."""
        return tuple(p for p in self.check.problems if (p.network, p.address) not in self.declared)

    def refusal(self, *, accept_partial: bool) -> SnapshotError | None:
        """Why this snapshot must not be stored as asked, or None."""
        if self.undeclared and not accept_partial:
            return EntriesRefused(
                self,
                f"{len(self.undeclared)} of {self.entry_count} entries are not valid addresses of their "
                "network; nothing was stored (accept_partial stores the valid ones and records the rest).",
            )
        if len(self.addresses) == 0:
            return EntriesRefused(self, "No entry is a valid address; nothing was stored.")
        return None

    def summary(self) -> dict[str, Any]:
        """The counts an operator reads to know what is and is not screened."""
        check = self.check
        return {
            "entries": self.entry_count,
            "valid": len(check.stored),
            "rejected": len(check.problems),
            "valid_by_network": dict(check.valid_by_network),
            "exact_only": check.exact_only,
            "case_folded": check.case_folded,
            "other_network": check.other_network,
            "notes": list(check.notes()),
        }

    def problems_json(self) -> dict[str, Any]:
        listed = self.rejected[:MAX_PROBLEMS_LISTED]
        return {
            "problem_count": len(self.rejected),
            "problems": [problem_json(p) | {"field": f"addresses.{p.index}.address"} for p in listed],
            "summary": self.summary(),
        }


def problem_json(problem: EntryProblem) -> dict[str, Any]:
    return {
        "index": problem.index,
        "address": problem.address,
        "network": problem.network,
        "problem": problem.problem,
    }


def check_source(source: Source) -> CheckedSnapshot:
    """Every entry checked against its network; `SnapshotError` when the source is not a
    snapshot at all (no name, a future date, a network code the table cannot hold, no
    entries, too many)."""
    problems = []
    if not 1 <= len(source.list_name) <= MAX_LIST_NAME:
        problems.append({"field": "list", "problem": f"1 to {MAX_LIST_NAME} characters"})
    if source.as_of > utcnow().date() + _AS_OF_LEAD:
        problems.append({"field": "as_of", "problem": "the list's date lies in the future"})
    if not 1 <= len(source.entries) <= MAX_SNAPSHOT_ENTRIES:
        problems.append(
            {"field": "addresses", "problem": f"1 to {MAX_SNAPSHOT_ENTRIES} entries (none delists everyone)"}
        )
    for i, (address, network) in enumerate(source.entries):
        if network is not None and not _LIST_CODE.match(network):
            problems.append(
                {"field": f"addresses.{i}.network", "problem": f"{network!r} is not a list code (A-Z, 0-9)"}
            )
        if not 1 <= len(address) <= MAX_ADDRESS_LENGTH:
            problems.append(
                {"field": f"addresses.{i}.address", "problem": f"1 to {MAX_ADDRESS_LENGTH} characters"}
            )
    if problems:
        raise SnapshotError("The snapshot is not valid.", problems[:MAX_PROBLEMS_LISTED])
    check = check_entries((i, address, network) for i, (address, network) in enumerate(source.entries))
    lists: dict[str, list[str]] = {}
    for entry in check.stored:
        lists.setdefault(entry.network or NO_NETWORK, []).append(entry.address)
    valid = AddressList.from_lists(lists, source=source.list_name, as_of=source.as_of)
    identity = snapshot_identity(valid, ((p.network, p.address) for p in check.problems))
    return CheckedSnapshot(
        dataclasses.replace(valid, id=identity), check, len(source.entries), source.declared_rejections
    )


class SnapshotEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=MAX_ADDRESS_LENGTH)
    network: str | None = Field(default=None, pattern=_NETWORK)

    @field_validator("network")
    @classmethod
    def _upper(cls, network: str | None) -> str | None:
        return network.upper() if network else None


class SnapshotPayload(BaseModel):
    """The JSON shape of a snapshot (see the module docstring), and the load's options."""

    model_config = ConfigDict(extra="forbid")
    list_name: str = Field(alias="list", min_length=1, max_length=MAX_LIST_NAME)
    as_of: date
    addresses: list[SnapshotEntry] = Field(min_length=1, max_length=MAX_SNAPSHOT_ENTRIES)
    accept_partial: bool = Field(
        default=False,
        description="store the valid entries, record the rejected ones (default: any problem refuses)",
    )
    confirm_delisting: bool = Field(
        default=False,
        description="switch even past GATEWAY_SANCTIONS_MAX_DELIST_RATIO of the list in force delisted",
    )

    @field_validator("as_of")
    @classmethod
    def _not_ahead(cls, as_of: date) -> date:
        if as_of > utcnow().date() + _AS_OF_LEAD:
            raise ValueError("the list's date lies in the future")
        return as_of

    def source(self) -> Source:
        return Source(self.list_name, self.as_of, tuple((e.address, e.network) for e in self.addresses))


def parse_payload(data: Any) -> SnapshotPayload:
    try:
        return SnapshotPayload.model_validate(data, strict=False)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise SnapshotError("The snapshot is not valid.", problems) from exc


def snapshot_from_json(data: Any) -> CheckedSnapshot:
    return check_source(parse_payload(data).source())


def infer_format(path: Path) -> SourceFormat:
    if path.is_dir() or path.suffix == ".toml":
        return SourceFormat.DIR
    if path.suffix == ".json":
        return SourceFormat.JSON
    if path.suffix == ".xml":
        return SourceFormat.OFAC_SDN_XML
    if path.suffix == ".csv":
        return (
            SourceFormat.CSV
            if formats.looks_like_plain_csv(formats.read_bytes(path))
            else SourceFormat.OFAC_SDN_CSV
        )
    raise SnapshotError(
        f"{path}: expected a directory, a {MANIFEST}, a .json, .xml or .csv file, or --format"
    )


def read_source(
    path: Path,
    *,
    source_format: SourceFormat | None = None,
    list_name: str | None = None,
    as_of: date | None = None,
) -> CheckedSnapshot:
    """A checked snapshot from `path` in `source_format` (inferred when None); `list_name`
    and `as_of` override what the source says. `SnapshotError` when it cannot be read."""
    try:
        kind = source_format or infer_format(path)
        if kind is SourceFormat.DIR:
            source = _from_dir(path, list_name, as_of)
        elif kind is SourceFormat.JSON:
            source = _from_json(formats.read_bytes(path), list_name, as_of)
        else:
            source = _from_table(kind, formats.read_bytes(path), list_name, as_of)
    except (OSError, tomllib.TOMLDecodeError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: cannot be read: {exc}") from exc
    except formats.SourceFormatError as exc:
        raise SnapshotError(f"{path}: not a {kind} source: {exc}") from exc
    return check_source(source)


def _from_json(data: bytes, list_name: str | None, as_of: date | None) -> Source:
    doc = orjson.loads(data)
    if isinstance(doc, dict):
        given = [option for option in _LOAD_OPTIONS if option in doc]
        if given:  # a file must not widen what the operator asked for on the command line
            raise SnapshotError(f"{', '.join(given)} in the file: give them as command-line flags")
        doc = {**doc, **({"list": list_name} if list_name else {})}
        doc.update({"as_of": as_of.isoformat()} if as_of else {})
    return parse_payload(doc).source()


_TABLE_NAMES = {
    SourceFormat.OFAC_SDN_XML: "OFAC SDN list, digital currency addresses",
    SourceFormat.OFAC_SDN_CSV: "OFAC SDN list (sdn.csv), digital currency addresses",
}


def _from_table(kind: SourceFormat, data: bytes, list_name: str | None, as_of: date | None) -> Source:
    read = {
        SourceFormat.OFAC_SDN_XML: formats.ofac_sdn_xml,
        SourceFormat.OFAC_SDN_CSV: formats.ofac_sdn_csv,
        SourceFormat.CSV: formats.plain_csv,
    }[kind]
    raw = read(data)
    name, dated = list_name or _TABLE_NAMES.get(kind), as_of or raw.as_of
    if not name or dated is None:
        raise SnapshotError(
            f"a {kind} source states no {'list name' if not name else 'date'}: give --list and --as-of"
        )
    return Source(name, dated, raw.entries)


def _from_dir(path: Path, list_name: str | None, as_of: date | None) -> Source:
    manifest = path / MANIFEST if path.is_dir() else path
    if not manifest.is_file():
        return _from_files(path, list_name, as_of, {})
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    directory = doc.get("directory")
    if not isinstance(directory, str):
        raise SnapshotError(f"{manifest}: `directory` (a string) is required")
    name = list_name or doc.get("source")
    dated = as_of or doc.get("as_of")
    if not isinstance(name, str) or not isinstance(dated, date):
        raise SnapshotError(f"{manifest}: `source` (a string) and `as_of` (a date) are required")
    return _from_files(manifest.parent / directory, name, dated, _declared(manifest, doc.get("rejected", [])))


def _declared(manifest: Path, rejected: Any) -> dict[tuple[str | None, str], str]:
    """`[[rejected]]` tables (`network`, `address`, `why`): entries the list publishes that
    are known not to be addresses, named in the manifest so loading the list whole is a
    visible decision, not a silent drop."""
    declared: dict[tuple[str | None, str], str] = {}
    for item in rejected if isinstance(rejected, list) else [rejected]:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("address"), str)
            and isinstance(item.get("why"), str)
        ):
            raise SnapshotError(f"{manifest}: each [[rejected]] needs `address` and `why` (and `network`)")
        network = item.get("network")
        declared[(network if isinstance(network, str) else None, item["address"])] = item["why"]
    return declared


def _from_files(
    directory: Path, list_name: str | None, as_of: date | None, declared: dict[tuple[str | None, str], str]
) -> Source:
    if not list_name or as_of is None:
        raise SnapshotError(f"{directory}: no {MANIFEST}; give the list name and as-of date")
    entries: list[tuple[str, str | None]] = []
    for path in sorted(directory.iterdir()):
        found = _FILE.match(path.name)
        if found and path.is_file():
            lines = formats.read_bytes(path).decode("utf-8").splitlines()
            entries.extend((line.strip(), found.group(1)) for line in lines if line.strip())
    if not entries:
        raise SnapshotError(f"{directory}: no sanctioned_addresses_<ASSET>.txt file with an address")
    return Source(list_name, as_of, tuple(entries), declared)
