"""Reading the entries of a sanctions list as its publishers ship it: OFAC's SDN XML (the
classic `sdn.xml` and `sdn_advanced.xml`), OFAC's `sdn.csv`, and a plain CSV of
`address,network`.

Each reader returns the entries in source order, as published (address, network or None),
and what the source says of its own date when it says it. Nothing here judges an address:
gateway/sanctions/sources.py checks every entry (aml/addresses/entries.py) before anything
is stored. A file that cannot be read whole (a truncated XML document, a CSV row cut
short) is an error naming where it stopped, never a shorter list: a truncated download
must not delist anyone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

# OFAC's sdn_advanced.xml is some 120 MB; anything much larger is not a list we know.
MAX_SOURCE_BYTES = 512 * 1024 * 1024
# How OFAC names a digital-currency identifier: "Digital Currency Address - XBT".
_DCA_PREFIX = "Digital Currency Address - "
# In sdn.csv the identifiers are prose in the remarks: "...; alt. Digital Currency Address - ETH 0x...;"
_DCA_REMARK = re.compile(r"Digital Currency Address - ([A-Za-z0-9]+) ([^\s;]+)")
_SDN_CSV_COLUMNS = 12  # ent_num, SDN_Name, SDN_Type, Program, Title, ..., Remarks
_SDN_CSV_REMARKS = 11
_SDN_CSV_END = "\x1a"  # OFAC's files end with a DOS end-of-file character on its own line


class SourceFormatError(ValueError):
    """The file is not a readable source of this format; `where` says where it stopped."""


@dataclass(frozen=True, slots=True)
class RawEntries:
    entries: tuple[tuple[str, str | None], ...]  # (address, network) as published, in order
    as_of: date | None = None  # the publication date the source states, if any


def read_bytes(path: Path) -> bytes:
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise SourceFormatError(f"larger than {MAX_SOURCE_BYTES} bytes")
    return path.read_bytes()


def _local(tag: str) -> str:
    """An element's name without its namespace: OFAC has changed the namespace before."""
    return tag.rsplit("}", 1)[-1]


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def ofac_sdn_xml(data: bytes) -> RawEntries:
    """The digital-currency identifiers of `sdn.xml` (`<id><idType>Digital Currency
    Address - XBT</idType><idNumber>…`) or `sdn_advanced.xml` (a `<Feature>` whose
    FeatureTypeID names "Digital Currency Address - XBT" in the reference values, the
    address in its `<VersionDetail>`). Parsed incrementally with entity expansion and
    external references refused (defusedxml)."""
    entries: list[tuple[str, str | None]] = []
    feature_types: dict[str, str] = {}  # FeatureType ID -> network, from ReferenceValueSets
    as_of: date | None = None
    try:
        for _, element in iterparse(io.BytesIO(data), events=("end",), forbid_dtd=True):
            name = _local(element.tag)
            if name == "FeatureType" and (element.text or "").startswith(_DCA_PREFIX):
                feature_types[element.get("ID", "")] = element.text.removeprefix(_DCA_PREFIX).strip()
            elif name == "Feature" and element.get("FeatureTypeID") in feature_types:
                network = feature_types[element.get("FeatureTypeID", "")]
                entries.extend(
                    (_text(d), network) for d in element.iter() if _local(d.tag) == "VersionDetail"
                )
            elif name == "id" and _text(_child(element, "idType")).startswith(_DCA_PREFIX):
                network = _text(_child(element, "idType")).removeprefix(_DCA_PREFIX).strip()
                entries.append((_text(_child(element, "idNumber")), network))
            elif name == "Publish_Date":  # sdn.xml: MM/DD/YYYY
                as_of = _us_date(_text(element))
            elif name == "DateOfIssue":  # sdn_advanced.xml: <Year>, <Month>, <Day>
                as_of = _parts_date(element)
            if name in {"sdnEntry", "DistinctParty"}:
                element.clear()  # one party at a time in memory, not the whole document
    except (ParseError, DefusedXmlException) as exc:
        raise SourceFormatError(f"not a readable XML document: {exc}") from exc
    return RawEntries(tuple(entries), as_of)


def _us_date(text: str) -> date | None:
    month, _, rest = text.partition("/")
    day, _, year = rest.partition("/")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _parts_date(element: Element) -> date | None:
    try:
        return date(*(int(_text(_child(element, part))) for part in ("Year", "Month", "Day")))
    except ValueError:
        return None


def ofac_sdn_csv(data: bytes) -> RawEntries:
    """The digital-currency identifiers in the remarks of OFAC's `sdn.csv` (no header, 12
    columns, `-0-` for empty). A row that does not have its 12 columns is a cut file."""
    entries: list[tuple[str, str | None]] = []
    # Names may be in any Latin encoding; the identifiers sought are ASCII either way.
    for number, row in _csv_rows(data, errors="replace"):
        if row == [_SDN_CSV_END] or not row:
            continue
        if len(row) != _SDN_CSV_COLUMNS:
            raise SourceFormatError(f"line {number}: {len(row)} columns, sdn.csv has {_SDN_CSV_COLUMNS}")
        for found in _DCA_REMARK.finditer(row[_SDN_CSV_REMARKS]):
            # The last remark of a row ends the sentence: "… XBT 1abc." ("." is in no address).
            entries.append((found.group(2).rstrip("."), found.group(1).upper()))
    return RawEntries(tuple(entries))


def plain_csv(data: bytes) -> RawEntries:
    """`address,network` with that header; `network` may be left out or empty."""
    rows = _csv_rows(data)
    header = next(rows, (0, []))[1]
    columns = [c.strip().lower() for c in header]
    if columns not in (["address"], ["address", "network"]):
        raise SourceFormatError("the first line must be the header `address,network` (network optional)")
    entries: list[tuple[str, str | None]] = []
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            raise SourceFormatError(f"line {number}: {len(row)} columns, the header names {len(columns)}")
        network = row[1].strip() if len(row) > 1 else ""
        entries.append((row[0].strip(), network.upper() or None))
    return RawEntries(tuple(entries))


def _csv_rows(data: bytes, errors: str = "strict") -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig", errors)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"not UTF-8 (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise SourceFormatError(f"line {reader.line_num}: {exc}") from exc


def looks_like_plain_csv(data: bytes) -> bool:
    """A `.csv` with our header is the plain format; without it, OFAC's sdn.csv."""
    return data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().lower().startswith(b"address")
