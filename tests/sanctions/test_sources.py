"""Reading sanctions sources as they are published, and checking every entry before
anything is stored: OFAC's XML and CSV, a plain CSV, our JSON; a corrupted list (case-
folded, truncated, bad checksums) refused with every entry named; hostile or cut files
refused whole. No database: what is stored is tests/sanctions/test_loading.py's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gateway.sanctions.service import packaged_snapshot
from gateway.sanctions.sources import (
    EntriesRefused,
    SnapshotError,
    Source,
    SourceFormat,
    check_source,
    read_source,
    snapshot_from_json,
)
from tests.sanctions.conftest import BECH32, TRON

DATA = Path(__file__).resolve().parent / "data"
LEGACY = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"  # listed XBT, base58 p2pkh
EIP55 = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"  # listed ETH, mixed case
LTC = "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb"


def _entries(
    path: Path, kind: SourceFormat | None = None, **overrides: object
) -> list[tuple[str, str | None]]:
    snapshot = read_source(path, source_format=kind, **overrides)  # type: ignore[arg-type]
    assert snapshot.refusal(accept_partial=False) is None
    return [(e.address, e.network) for e in snapshot.check.stored]


@pytest.mark.parametrize(
    ("name", "kind", "expected", "as_of"),
    [
        (
            "sdn_advanced_sample.xml",
            None,
            [(LEGACY, "XBT"), (BECH32, "XBT"), (EIP55, "ETH"), (TRON, "TRX")],
            date(2024, 9, 27),
        ),
        (
            "sdn_sample.xml",
            SourceFormat.OFAC_SDN_XML,
            [(LEGACY, "XBT"), (EIP55, "ETH"), (LTC, "LTC")],
            date(2024, 9, 27),
        ),
    ],
)
def test_ofac_xml_yields_its_digital_currency_identifiers_and_date(
    name: str, kind: SourceFormat | None, expected: list[tuple[str, str]], as_of: date
) -> None:
    assert _entries(DATA / name, kind) == expected
    assert read_source(DATA / name).addresses.as_of == as_of


def test_ofac_sdn_csv_reads_the_remarks_and_needs_a_date() -> None:
    path = DATA / "sdn_sample.csv"
    with pytest.raises(SnapshotError, match="as-of"):
        read_source(path)
    entries = _entries(path, as_of=date(2024, 9, 27))
    assert entries == [(LEGACY, "XBT"), (BECH32, "XBT"), (EIP55, "ETH"), (TRON, "TRX")]


def test_plain_csv_with_optional_network() -> None:
    path = DATA / "addresses.csv"
    with pytest.raises(SnapshotError, match="--list"):
        read_source(path)  # inferred as the plain format by its header, which names no list
    entries = _entries(path, list_name="our list", as_of=date(2025, 1, 1))
    assert entries == [(LEGACY, "XBT"), (EIP55, "ETH"), (TRON, "TRX"), (LTC, None)]
    snapshot = read_source(path, list_name="our list", as_of=date(2025, 1, 1))
    assert snapshot.summary()["exact_only"] == 1, "no network: stored for exact matching, counted"


BAD_FILES = [
    # (id, file name, content, format) -- each refused whole, nothing read from it
    ("xml-cut-short", "cut.xml", (DATA / "sdn_sample.xml").read_bytes()[:700], SourceFormat.OFAC_SDN_XML),
    (
        "xml-entity-expansion",
        "bomb.xml",
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<sdnList><sdnEntry><idList><id><idType>Digital Currency Address - XBT</idType>"
        b"<idNumber>&b;</idNumber></id></idList></sdnEntry></sdnList>",
        SourceFormat.OFAC_SDN_XML,
    ),
    (
        "xml-external-entity",
        "xxe.xml",
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]><sdnList>&x;</sdnList>',
        SourceFormat.OFAC_SDN_XML,
    ),
    ("sdn-csv-row-cut", "sdn.csv", (DATA / "sdn_sample.csv").read_bytes()[:120], SourceFormat.OFAC_SDN_CSV),
    ("csv-no-header", "plain.csv", f"{LEGACY},XBT\n".encode(), SourceFormat.CSV),
    ("csv-extra-column", "plain.csv", f"address,network\n{LEGACY},XBT,extra\n".encode(), SourceFormat.CSV),
    ("csv-not-utf8", "plain.csv", b"address,network\n\xff\xfe,XBT\n", SourceFormat.CSV),
    ("csv-unclosed-quote", "plain.csv", b'address,network\n"123WB,XBT\n', SourceFormat.CSV),
    ("csv-no-entries", "plain.csv", b"address,network\n", SourceFormat.CSV),
    ("csv-bad-network-code", "plain.csv", f"address,network\n{LEGACY},X-BT\n".encode(), SourceFormat.CSV),
    ("csv-address-too-long", "plain.csv", b"address,network\n" + b"1" * 200 + b",XBT\n", SourceFormat.CSV),
    (
        "json-with-load-options",
        "s.json",
        b'{"list": "x", "as_of": "2025-01-01", "addresses": [], "accept_partial": true}',
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "kind"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_a_bad_file_is_refused_whole(
    tmp_path: Path, name: str, content: bytes, kind: SourceFormat | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SnapshotError) as refused:
        read_source(path, source_format=kind, list_name="x", as_of=date(2025, 1, 1))
    assert refused.value.message and not isinstance(refused.value, EntriesRefused)


def _corrupted() -> Source:
    """The packaged list as a mirror would break it: case-folded, cut, and mistyped."""
    valid = [(a, n) for n, addresses in packaged_snapshot().addresses.addresses.items() for a in addresses]
    corrupt = [
        (LEGACY.lower(), "XBT"),  # case-folded (what public mirrors publish)
        (TRON.lower(), "TRX"),  # case-folded
        (TRON[:-3], "TRX"),  # truncated
        (LEGACY[:-1] + "Y", "XBT"),  # base58check checksum
        (EIP55.replace("dFBC", "DFBC"), "ETH"),  # EIP-55 checksum
        (BECH32[:-1] + "q", "XBT"),  # bech32 checksum
    ]
    return Source("corrupted", date(2025, 1, 1), tuple(valid[:10] + corrupt + valid[10:20]))


def test_a_corrupted_list_is_refused_with_every_entry_named() -> None:
    snapshot = check_source(_corrupted())
    refusal = snapshot.refusal(accept_partial=False)
    assert isinstance(refusal, EntriesRefused)
    details = refusal.details
    assert details["problem_count"] == 6
    assert [(p["index"], p["network"]) for p in details["problems"]] == [
        (10, "XBT"), (11, "TRX"), (12, "TRX"), (13, "XBT"), (14, "ETH"), (15, "XBT"),
    ]  # fmt: skip
    assert all(p["problem"] and p["field"] == f"addresses.{p['index']}.address" for p in details["problems"])
    summary = details["summary"]
    assert (summary["entries"], summary["valid"], summary["rejected"], summary["case_folded"]) == (
        26,
        20,
        6,
        2,
    )
    assert "source looks case-folded: 2 entries" in summary["notes"]
    # accept_partial takes the valid ones: what is refused is still named with the snapshot.
    assert snapshot.refusal(accept_partial=True) is None
    assert len(snapshot.rejected) == 6


def test_only_invalid_entries_are_refused_even_with_accept_partial() -> None:
    snapshot = check_source(Source("none valid", date(2025, 1, 1), ((LEGACY.lower(), "XBT"),)))
    assert isinstance(snapshot.refusal(accept_partial=True), EntriesRefused)


def test_rejected_entries_are_part_of_the_identity() -> None:
    corrupted = _corrupted()
    with_rejections = check_source(corrupted)
    valid_only = check_source(
        Source(corrupted.list_name, corrupted.as_of, tuple(corrupted.entries[:10] + corrupted.entries[16:]))
    )
    assert with_rejections.addresses.addresses == valid_only.addresses.addresses, "the same stored content"
    assert with_rejections.id != valid_only.id, "but not the same snapshot"


def test_the_packaged_list_declares_its_one_non_address() -> None:
    packaged = packaged_snapshot()
    assert [(p.network, p.address[:8]) for p in packaged.rejected] == [("XMR", "5be5543f")]
    assert packaged.undeclared == () and packaged.refusal(accept_partial=False) is None
    assert packaged.summary()["other_network"] == 1, "the Tron address OFAC lists as XBT, named"


def test_an_undeclared_problem_in_a_manifest_list_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "snapshot.toml").write_text('source = "x"\nas_of = 2025-01-01\ndirectory = "files"\n')
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "sanctioned_addresses_XBT.txt").write_text(f"{LEGACY}\n{LEGACY.lower()}\n")
    refusal = read_source(tmp_path).refusal(accept_partial=False)
    assert isinstance(refusal, EntriesRefused) and refusal.details["summary"]["case_folded"] == 1


def test_json_entries_are_checked_not_refused_at_parse() -> None:
    body = {"list": "x", "as_of": "2025-01-01", "addresses": [{"address": LEGACY.lower(), "network": "XBT"}]}
    snapshot = snapshot_from_json(body)
    assert [p.index for p in snapshot.rejected] == [0]
