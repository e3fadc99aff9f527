"""Where a sanctions snapshot comes from: the packaged file layout, or a JSON document.

Two formats, both validated whole before anything is stored:

- **The packaged layout** (aml/data/sanctions): a directory with `snapshot.toml`
  (`source`, `as_of` as a TOML date, `directory`) and `sanctioned_addresses_<ASSET>.txt`
  files in that directory, one address a line. A bare directory of such files works
  too when the list name and date are given (`--list`, `--as-of` on the CLI).
- **JSON** (the admin API's body, or a `.json` file for the CLI):

      {"list": "OFAC SDN digital currency addresses",
       "as_of": "2025-03-21",
       "addresses": [{"address": "0x8589427373D6D84E98730D7795D8f6f8731FDA16", "network": "ETH"},
                     {"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}]}

  `network` (optional) is the chain or list the address was published under; a
  malformed address for that network (an ETH address that is not 0x and 40 hex digits)
  is refused. At least one address: an empty list would delist everyone.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aml.sanctions import MAX_ADDRESS_LENGTH, AddressList, MalformedAddress, normalise, snapshot_from_files
from gateway.markets import utcnow
from gateway.store.sanctions import NO_NETWORK

MANIFEST = "snapshot.toml"
# The whole OFAC list holds some 650 addresses; this bound only stops a runaway document.
MAX_SNAPSHOT_ENTRIES = 100_000
MAX_LIST_NAME = 500
_NETWORK = r"^[A-Za-z0-9]{1,16}$"
_LIST_CODE = re.compile(r"^[A-Z0-9]{1,16}$")  # as the table's CHECK wants it (migration 0005)
# A list dated tomorrow is still plausible across time zones; later than that is a typo.
_AS_OF_LEAD = timedelta(days=1)


class SnapshotError(ValueError):
    """The source is not a valid snapshot; nothing was stored. `problems` name the field."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class SnapshotEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=MAX_ADDRESS_LENGTH)
    network: str | None = Field(default=None, pattern=_NETWORK)

    @field_validator("network")
    @classmethod
    def _upper(cls, network: str | None) -> str | None:
        return network.upper() if network else None


class SnapshotPayload(BaseModel):
    """The JSON shape of a snapshot (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    list_name: str = Field(alias="list", min_length=1, max_length=MAX_LIST_NAME)
    as_of: date
    addresses: list[SnapshotEntry] = Field(min_length=1, max_length=MAX_SNAPSHOT_ENTRIES)

    @field_validator("as_of")
    @classmethod
    def _not_ahead(cls, as_of: date) -> date:
        if as_of > utcnow().date() + _AS_OF_LEAD:
            raise ValueError("the list's date lies in the future")
        return as_of

    def address_list(self) -> AddressList:
        problems = []
        lists: dict[str, list[str]] = {}
        for i, entry in enumerate(self.addresses):
            try:
                normalise(entry.address, entry.network)
            except MalformedAddress as exc:
                problems.append({"field": f"addresses.{i}.address", "problem": exc.reason})
                continue
            lists.setdefault(entry.network or NO_NETWORK, []).append(entry.address)
        if problems:
            raise SnapshotError("Some addresses cannot be screened.", problems)
        return AddressList.from_lists(lists, source=self.list_name, as_of=self.as_of)


def snapshot_from_json(data: Any) -> AddressList:
    try:
        payload = SnapshotPayload.model_validate(data, strict=False)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise SnapshotError("The snapshot is not valid.", problems) from exc
    return payload.address_list()


def read_source(path: Path, *, list_name: str | None = None, as_of: date | None = None) -> AddressList:
    """A snapshot from a directory (with or without `snapshot.toml`), a `snapshot.toml`, or
    a `.json` file; `list_name` and `as_of` override what the source says."""
    try:
        if path.is_dir() and not (path / MANIFEST).is_file():
            snapshot = _from_files(path, list_name, as_of)
        elif path.is_dir() or path.suffix == ".toml":
            snapshot = _from_manifest(path / MANIFEST if path.is_dir() else path, list_name, as_of)
        elif path.suffix == ".json":
            snapshot = snapshot_from_json(_overridden(orjson.loads(path.read_bytes()), list_name, as_of))
        else:
            raise SnapshotError(f"{path}: expected a directory, a {MANIFEST} or a .json file")
    except (OSError, tomllib.TOMLDecodeError, orjson.JSONDecodeError) as exc:
        raise SnapshotError(f"{path}: cannot be read: {exc}") from exc
    except MalformedAddress as exc:
        raise SnapshotError(f"{path}: an address cannot be screened: {exc}") from exc
    return checked(snapshot)


def _overridden(data: Any, list_name: str | None, as_of: date | None) -> Any:
    if isinstance(data, dict):
        data = {**data, **({"list": list_name} if list_name else {})}
        data.update({"as_of": as_of.isoformat()} if as_of else {})
    return data


def _from_manifest(manifest: Path, list_name: str | None, as_of: date | None) -> AddressList:
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    directory = doc.get("directory")
    if not isinstance(directory, str):
        raise SnapshotError(f"{manifest}: `directory` (a string) is required")
    name = list_name or doc.get("source")
    dated = as_of or doc.get("as_of")
    if not isinstance(name, str) or not isinstance(dated, date):
        raise SnapshotError(f"{manifest}: `source` (a string) and `as_of` (a date) are required")
    return _from_files(manifest.parent / directory, name, dated)


def _from_files(directory: Path, list_name: str | None, as_of: date | None) -> AddressList:
    if not list_name or as_of is None:
        raise SnapshotError(f"{directory}: no {MANIFEST}; give the list name and as-of date")
    files = {p.name: p.read_text(encoding="utf-8") for p in directory.iterdir() if p.is_file()}
    try:
        return snapshot_from_files(files, source=list_name, as_of=as_of)
    except MalformedAddress:
        raise
    except ValueError as exc:  # no sanctioned_addresses_<ASSET>.txt at all
        raise SnapshotError(f"{directory}: {exc}") from exc


def checked(snapshot: AddressList) -> AddressList:
    """What the table requires of any source: a name, a plausible date, list codes it
    can hold, at least one address."""
    problems = []
    if not 1 <= len(snapshot.source) <= MAX_LIST_NAME:
        problems.append({"field": "list", "problem": f"1 to {MAX_LIST_NAME} characters"})
    if snapshot.as_of > utcnow().date() + _AS_OF_LEAD:
        problems.append({"field": "as_of", "problem": "the list's date lies in the future"})
    bad = sorted(n for n in snapshot.addresses if n != NO_NETWORK and not _network_ok(n))
    problems.extend({"field": "network", "problem": f"{n!r} is not a list code (A-Z, 0-9)"} for n in bad)
    if len(snapshot) == 0:
        problems.append({"field": "addresses", "problem": "no addresses: an empty list delists everyone"})
    if problems:
        raise SnapshotError("The snapshot is not valid.", problems)
    return snapshot


def _network_ok(network: str) -> bool:
    return _LIST_CODE.match(network) is not None
