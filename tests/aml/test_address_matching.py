"""Matching (issue 13, item 7): today's case rules hold, the spellings users send for one
account match each other, and no homoglyph or arbitrary text matches or raises anything
but MalformedAddress."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aml.addresses import cashaddr, xrp
from aml.sanctions import AddressFormat, MalformedAddress, load_packaged_snapshot, normalise, screen_address
from tests.support import IO_PACKAGES, imported_packages

SNAPSHOT = load_packaged_snapshot()
ADDRESSES = Path(__file__).resolve().parents[2] / "aml" / "addresses"

TRON = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"  # TRX list
XRP_CLASSIC = "rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh66"  # XRP list
CASHADDR = "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq"  # BCH list, as cashaddr
BCH_LEGACY = "18M8bJWMzWHDBMxoLqjHHAffdRy4SrzkfB"  # BCH list, as legacy
EVM = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"  # ETH list
BECH32 = "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw"  # XBT list
BTC_LEGACY = "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9"  # BSV list
USDT_CONTRACT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # Tether on Ethereum, not listed


def _tron_hex(address: str) -> str:
    from aml.addresses.evm import tron_account

    account = tron_account(address)
    assert account is not None
    return "41" + account.hex()


EQUIVALENT = [
    ("tron-hex", _tron_hex(TRON), TRON),
    ("tron-hex-upper-0x", "0x" + _tron_hex(TRON).upper(), TRON),
    ("xrp-x-address-no-tag", xrp.encode_x_address(XRP_CLASSIC, None), XRP_CLASSIC),
    ("xrp-x-address-tag", xrp.encode_x_address(XRP_CLASSIC, 12345), XRP_CLASSIC),
    ("bch-legacy-of-listed-cashaddr", cashaddr.to_legacy(cashaddr.decode(CASHADDR)), CASHADDR),  # type: ignore[arg-type]
    ("bch-cashaddr-of-listed-legacy", cashaddr.from_legacy(BCH_LEGACY), BCH_LEGACY),
    ("bch-cashaddr-bare-upper", (cashaddr.from_legacy(BCH_LEGACY) or "").split(":")[1].upper(), BCH_LEGACY),
    ("bitcoin-uri", f"bitcoin:{BTC_LEGACY}?amount=0.5&label=x", BTC_LEGACY),
    ("bitcoin-uri-upper-scheme-bech32", f"BITCOIN:{BECH32.upper()}?amount=1", BECH32),
    ("bitcoincash-uri", f"bitcoincash:{CASHADDR}?amount=1", CASHADDR),
    ("ethereum-uri", f"ethereum:{EVM.lower()}@1?value=1e18", EVM),
    ("ethereum-pay-uri", f"ethereum:pay-{EVM}", EVM),
    ("erc20-transfer-uri", f"ethereum:{USDT_CONTRACT}@1/transfer?address={EVM}&uint256=1e6", EVM),
]


@pytest.mark.parametrize(("sent", "listed"), [c[1:] for c in EQUIVALENT], ids=[c[0] for c in EQUIVALENT])
def test_equivalent_spellings_match_the_listed_one(sent: str, listed: str) -> None:
    assert normalise(sent).key == normalise(listed).key
    match = SNAPSHOT.is_listed(sent)
    assert match is not None and listed in match.listed_as


def test_an_x_address_tag_is_recorded_not_compared() -> None:
    sent = xrp.encode_x_address(XRP_CLASSIC, 12345) or ""
    match = SNAPSHOT.is_listed(sent, "XRP")
    assert match is not None and match.tag == 12345 and match.key == XRP_CLASSIC
    finding = screen_address(SNAPSHOT, sent, direction="withdrawal", asset="XRP")
    assert finding is not None and finding.values["destination_tag"] == 12345


def test_a_transfer_uri_screens_the_token_contract_too() -> None:
    clean = "0x" + "ab" * 20
    match = SNAPSHOT.is_listed(f"ethereum:{EVM}/transfer?address={clean}&uint256=1")
    assert match is not None and match.key == EVM.lower()
    assert SNAPSHOT.is_listed(f"ethereum:{USDT_CONTRACT}/transfer?address={clean}") is None


MALFORMED_URIS = [
    ("unknown-scheme", f"dogecoin:{BTC_LEGACY}"),
    ("bitcoin-uri-without-address", "bitcoin:?lightning=lnbc1"),
    ("bitcoin-uri-naming-evm", f"bitcoin:{EVM}"),
    ("ethereum-uri-naming-base58", f"ethereum:{TRON}"),
    ("ethereum-uri-ens-name", "ethereum:tornado.eth"),
    ("ethereum-uri-other-function", f"ethereum:{USDT_CONTRACT}/approve?address={EVM}"),
    ("ethereum-transfer-without-recipient", f"ethereum:{USDT_CONTRACT}/transfer?uint256=1"),
    ("ethereum-transfer-two-recipients", f"ethereum:{USDT_CONTRACT}/transfer?address={EVM}&address={EVM}"),
    ("percent-encoded-recipient", f"ethereum:{USDT_CONTRACT}/transfer?address=%30x{EVM[2:]}"),
    ("nested-uri", f"bitcoin:bitcoin:{BTC_LEGACY}"),
    ("bitcoincash-uri-mixed-case", "bitcoincash:" + CASHADDR[:5].upper() + CASHADDR[5:] + "?amount=1"),
    ("cashaddr-bad-checksum", CASHADDR[:-1] + "p"),
]


@pytest.mark.parametrize("address", [m[1] for m in MALFORMED_URIS], ids=[m[0] for m in MALFORMED_URIS])
def test_what_cannot_be_screened_is_malformed(address: str) -> None:
    with pytest.raises(MalformedAddress):
        normalise(address)


def test_the_formats_stored_stay_within_the_tables_check() -> None:
    # sanctions_addresses.format has a CHECK over these values (migration 0005).
    allowed = {"evm", "hex", "bech32", "cashaddr", "base58", "opaque"}
    assert {f.value for f in AddressFormat} == allowed


# Lookalikes of ASCII letters and digits, and invisible characters.
HOMOGLYPHS = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "c": "\u0441",
    "x": "\u0445",
    "y": "\u0443",
    "B": "\u0412",
    "H": "\u041d",
    "T": "\u0422",
    "M": "\u041c",
    "K": "\u039a",
    "X": "\u03a7",
    "1": "\u0661",
    "0": "\uff10",
    "q": "\u051b",
    "r": "\u0433",
}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
LISTED = sorted({entry for entries in SNAPSHOT.addresses.values() for entry in entries})


@given(
    listed=st.sampled_from(LISTED),
    position=st.integers(min_value=0, max_value=200),
    replacement=st.sampled_from(
        sorted(set(HOMOGLYPHS.values()) | {chr(ord(c) + 0xFEE0) for c in "abcdef0123"})
    ),
    invisible=st.sampled_from(INVISIBLE),
    insert=st.booleans(),
)
def test_a_homoglyph_of_a_listed_address_never_matches(
    listed: str, position: int, replacement: str, invisible: str, insert: bool
) -> None:
    at = position % len(listed)
    if insert:
        spoofed = listed[:at] + invisible + listed[at:]
    else:
        spoofed = listed[:at] + HOMOGLYPHS.get(listed[at], replacement) + listed[at + 1 :]
    with pytest.raises(MalformedAddress):
        SNAPSHOT.is_listed(spoofed)


@given(text=st.text(max_size=160))
@example(text="bitcoin:")
@example(text="ethereum:0x/transfer?address=")
@example(text="X" * 47)
@example(text="41" + "f" * 40)
@example(text="q" * 42)
def test_arbitrary_text_never_raises_anything_but_malformed(text: str) -> None:
    try:
        found = normalise(text)
    except MalformedAddress as exc:
        assert exc.reason
        return
    assert found.key and found.key.isascii()
    assert normalise(found.key).key == found.key  # a key is its own key


@given(
    account=st.binary(min_size=20, max_size=20),
    tag=st.none() | st.integers(min_value=0, max_value=2**32 - 1),
    p2sh=st.booleans(),
)
def test_every_equivalence_round_trips(account: bytes, tag: int | None, p2sh: bool) -> None:
    from aml.addresses import base58, evm

    tron = base58.encode_check(b"\x41" + account)
    assert normalise("41" + account.hex()).key == normalise(tron).key == tron
    assert evm.tron_account(tron) == account
    classic = xrp.classic_address(account)
    x_address = xrp.encode_x_address(classic, tag) or ""
    assert xrp.decode_x_address(x_address) == xrp.XAddress(classic, tag, test=False)
    assert normalise(x_address).key == classic and normalise(x_address).tag == tag
    legacy = base58.encode_check(bytes([0x05 if p2sh else 0x00]) + account)
    cash = cashaddr.from_legacy(legacy) or ""
    assert normalise(cash).key == normalise(cash.split(":")[1]).key == normalise(legacy).key == legacy
    evm_address = "0x" + account.hex()
    assert normalise(f"ethereum:{evm.eip55(evm_address)}@1").key == evm_address
    assert normalise(f"bitcoin:{legacy}?amount=1").key == legacy


@pytest.mark.parametrize("module", sorted(ADDRESSES.glob("*.py")), ids=lambda p: p.name)
def test_address_code_does_no_io(module: Path) -> None:
    assert not imported_packages(module) & IO_PACKAGES
