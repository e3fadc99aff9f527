"""Sanctions screening against the packaged OFAC snapshot (addresses from the real lists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from aml.findings import AmlReason
from aml.sanctions import (
    AddressFormat,
    AddressList,
    MalformedAddress,
    load_packaged_snapshot,
    normalise,
    screen_address,
)

SNAPSHOT = load_packaged_snapshot()

# From the packaged lists (aml/data/sanctions/ofac_0xB10C).
EVM_EIP55 = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"  # ETH, mixed-case (EIP-55)
EVM_LOWER = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c"  # ARB, BSC and ETH
TORNADO_USDC = "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2"  # ETH, USDC and USDT lists
BTC_LEGACY = "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9"  # BSV
TRON = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"  # TRX
TRON_USDT = "TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR"  # USDT list (Tron)
XMR = "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL"
XRP = "rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh66"
BECH32 = "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw"  # XBT
BECH32_BASE58_ALIKE = "bc1q2q8uxjznmurg363dvd98xjg54mrr7z6mw9t825"  # XBT; in capitals, no 0: base58's alphabet
CASHADDR = "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq"  # BCH
ZCASH = "t1MMXtBrSp1XG38Lx9cePcNUCJj5vdWfUWL"


def _flip_one_letter(address: str, index: int) -> str:
    return address[:index] + address[index].swapcase() + address[index + 1 :]


@dataclass(frozen=True)
class Case:
    id: str
    address: str
    asset: str | None
    listed: bool
    assets: tuple[str, ...] = ()
    format: AddressFormat | None = None


CASES = [
    Case("evm-as-listed", EVM_EIP55, "ETH", True, ("ETH",), AddressFormat.EVM),
    Case("evm-lower-case", EVM_EIP55.lower(), "ETH", True, ("ETH",), AddressFormat.EVM),
    Case("evm-upper-case-hex", "0x" + EVM_EIP55[2:].upper(), "ETH", True, ("ETH",), AddressFormat.EVM),
    Case("evm-other-chain-still-matches", EVM_EIP55.lower(), "BSC", True, ("ETH",), AddressFormat.EVM),
    Case("evm-on-two-lists", EVM_LOWER.upper().replace("0X", "0x"), "ARB", True, ("ARB", "BSC", "ETH")),
    Case("evm-stablecoin-lists", TORNADO_USDC.lower(), "USDT", True, ("ETH", "USDC", "USDT")),
    Case("evm-not-listed", "0x" + "ab" * 20, "ETH", False),
    Case("base58-btc-exact", BTC_LEGACY, "BSV", True, ("BSV",), AddressFormat.BASE58),
    Case("base58-btc-one-letter-case-changed", _flip_one_letter(BTC_LEGACY, 3), "BSV", False),
    Case("base58-tron-exact", TRON, "TRX", True, ("TRX",), AddressFormat.BASE58),
    Case("base58-tron-one-letter-case-changed", _flip_one_letter(TRON, 5), "TRX", False),
    Case("base58-tron-on-usdt-list", TRON_USDT, "USDT", True, ("USDT",)),
    Case("base58-monero", XMR, "XMR", True, ("XMR",), AddressFormat.BASE58),
    Case("base58-monero-case-changed", _flip_one_letter(XMR, 10), "XMR", False),
    Case("base58-xrp", XRP, "XRP", True, ("XRP",), AddressFormat.BASE58),
    Case("base58-zcash", ZCASH, "ZEC", True, ("ZEC",), AddressFormat.BASE58),
    Case("bech32-lower", BECH32, "BTC", True, ("XBT",), AddressFormat.BECH32),
    # BIP-173: an all-upper-case bech32 string is valid (QR codes); it is the same address.
    Case("bech32-all-upper-case-matches", BECH32.upper(), "BTC", True, ("XBT",), AddressFormat.BECH32),
    Case("bech32-upper-case-base58-alike", BECH32_BASE58_ALIKE.upper(), "BTC", True, ("XBT",), AddressFormat.BECH32),
    Case("cashaddr", CASHADDR, "BCH", True, ("BCH",), AddressFormat.CASHADDR),
    Case("cashaddr-with-prefix", "bitcoincash:" + CASHADDR, "BCH", True, ("BCH",), AddressFormat.CASHADDR),
    Case("cashaddr-upper-case", CASHADDR.upper(), "BCH", True, ("BCH",), AddressFormat.CASHADDR),
    Case("no-asset-named", TRON, None, True, ("TRX",)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_is_listed(case: Case) -> None:
    match = SNAPSHOT.is_listed(case.address, case.asset)
    if not case.listed:
        assert match is None
        return
    assert match is not None
    assert match.assets == case.assets
    assert match.snapshot_id == SNAPSHOT.id
    if case.format is not None:
        assert match.format is case.format


MALFORMED = [
    ("evm-bad-hex-digit", EVM_EIP55[:-1] + "Z", "ETH"),
    ("evm-too-short-on-evm-chain", EVM_EIP55[:-2], "ETH"),
    ("evm-upper-case-prefix", "0X" + EVM_EIP55[2:], "ETH"),
    ("bech32-mixed-case", BECH32[:10] + BECH32[10:].upper(), "BTC"),
    ("bech32-prefix-upper-rest-mixed", "BC1Q" + BECH32[4:], "BTC"),
    ("bech32-bad-checksum", BECH32[:-1] + ("q" if BECH32[-1] != "q" else "p"), "BTC"),
    ("bech32-character-outside-charset", BECH32[:8] + "b" + BECH32[9:], "BTC"),
    ("cashaddr-prefix-mixed-case", "bitcoincash:" + CASHADDR[:5].upper() + CASHADDR[5:], "BCH"),
    ("with-space", BTC_LEGACY + " ", "BTC"),
    ("empty", "", "BTC"),
    ("non-ascii", "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmé", "BTC"),
]


@pytest.mark.parametrize(("address", "asset"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_addresses_are_refused(address: str, asset: str) -> None:
    with pytest.raises(MalformedAddress):
        SNAPSHOT.is_listed(address, asset)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("TB1" + "x" * 31, AddressFormat.BASE58),  # a Tron address may begin "TB1"
        ("0x" + "a" * 64, AddressFormat.HEX),  # Aptos/Sui: 32 bytes, not EVM
        ("binancecold", AddressFormat.OPAQUE),  # an EOS account name: compared exactly
        ("5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320", AddressFormat.OPAQUE),
    ],
    ids=["tron-tb1-is-not-bech32", "long-hex-not-evm", "eos-account-opaque", "hex-without-prefix-opaque"],
)
def test_formats_outside_the_main_ones_are_not_refused(address: str, expected: AddressFormat) -> None:
    assert normalise(address).format is expected


def test_snapshot_identity() -> None:
    again = load_packaged_snapshot()
    assert again.id == SNAPSHOT.id and SNAPSHOT.id.startswith("sha256:") and len(SNAPSHOT.id) == 71
    assert SNAPSHOT.as_of == date(2024, 9, 27)
    assert "0xB10C" in SNAPSHOT.source
    # SOURCE.md: 654 rows, 641 distinct addresses.
    assert sum(len(v) for v in SNAPSHOT.addresses.values()) == 654
    assert len(SNAPSHOT) == 641
    assert len(SNAPSHOT.addresses["XBT"]) == 435


def test_queried_asset_is_recorded_not_used_to_narrow() -> None:
    on_list = SNAPSHOT.is_listed(BECH32, "BTC")  # the list calls Bitcoin XBT
    other_chain = SNAPSHOT.is_listed(EVM_EIP55, "BSC")
    assert on_list is not None and on_list.on_queried_asset
    assert other_chain is not None and not other_chain.on_queried_asset


def test_newer_snapshot_delists() -> None:
    # A newer list without the address on any asset (as OFAC's March 2025 delisting).
    lists = {
        asset: [a for a in entries if a.lower() != TORNADO_USDC.lower()]
        for asset, entries in SNAPSHOT.addresses.items()
    }
    newer = AddressList.from_lists(lists, source="OFAC after the Tornado Cash delisting", as_of=date(2025, 3, 21))
    assert newer.is_listed(TORNADO_USDC, "USDC") is None
    assert SNAPSHOT.is_listed(TORNADO_USDC, "USDC") is not None  # the old one is unchanged
    assert newer.id != SNAPSHOT.id
    assert newer.delisted_since(SNAPSHOT) == {TORNADO_USDC.lower()}
    assert newer.is_listed(TRON, "TRX") is not None


def test_snapshot_id_is_content_not_order() -> None:
    forwards = AddressList.from_lists({"TRX": [TRON, TRON_USDT]}, source="a", as_of=date(2024, 1, 1))
    backwards = AddressList.from_lists({"TRX": [TRON_USDT, TRON]}, source="b", as_of=date(2024, 2, 1))
    assert forwards.id == backwards.id


def test_a_malformed_list_entry_is_refused() -> None:
    with pytest.raises(MalformedAddress):
        AddressList.from_lists({"ETH": ["0xnothex"]}, source="bad", as_of=date(2024, 1, 1))


@pytest.mark.parametrize("direction", ["withdrawal", "deposit"])
def test_screen_listed_address_denies_and_reports(direction: str) -> None:
    finding = screen_address(SNAPSHOT, EVM_EIP55.lower(), direction=direction, asset="ETH")  # type: ignore[arg-type]
    assert finding is not None
    assert (finding.outcome, finding.reason, finding.report and finding.report.kind) == ("deny", AmlReason.SANCTIONED_ADDRESS, "STR")
    assert finding.values["snapshot_id"] == SNAPSHOT.id
    assert finding.values["listed_as"] == [EVM_EIP55]
    assert finding.citation and "OFAC" in finding.citation


def test_screen_unlisted_and_malformed() -> None:
    assert screen_address(SNAPSHOT, "0x" + "ab" * 20, direction="withdrawal", asset="ETH") is None
    malformed = screen_address(SNAPSHOT, "0x12", direction="withdrawal", asset="ETH")
    assert malformed is not None
    assert (malformed.outcome, malformed.reason, malformed.report) == ("deny", AmlReason.ADDRESS_MALFORMED, None)
    assert malformed.values["snapshot_id"] == SNAPSHOT.id
