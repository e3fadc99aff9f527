"""List entries checked against their network before they are stored (issue 13, items 1
and 3): per network, the whole packaged OFAC list, and a case-folded copy of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aml import bech32
from aml.addresses import networks
from aml.addresses.entries import CASE_FOLDED, EntryProblem, StoredEntry, check_entries, check_entry

LISTS = Path(__file__).resolve().parents[2] / "aml" / "data" / "sanctions" / "ofac_0xB10C"


def _packaged_entries() -> list[tuple[int, str, str | None]]:
    entries: list[tuple[int, str, str | None]] = []
    for path in sorted(LISTS.glob("sanctioned_addresses_*.txt")):
        network = path.stem.rsplit("_", 1)[1]
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entries.append((len(entries), line.strip(), network))
    return entries


PACKAGED = _packaged_entries()
P2WPKH_PROGRAM = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")  # BIP-173's vector
LTC_SEGWIT = bech32.encode_segwit("ltc", 0, P2WPKH_PROGRAM) or ""
SAPLING = bech32.encode("zs", bech32.convert_bits(bytes(range(43)), 8, 5, pad=True) or [], bech32.BECH32)


@dataclass(frozen=True)
class Case:
    id: str
    network: str
    address: str
    valid_as: str | None  # the chain; None when invalid
    kind: str | None = None


def _flip(address: str, index: int) -> str:
    return address[:index] + address[index].swapcase() + address[index + 1 :]


CASES = [
    Case("xbt-p2pkh", "XBT", "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9", "XBT", "p2pkh"),
    Case("btc-alias", "BTC", "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC", "XBT", "p2sh"),
    Case("xbt-segwit-v0", "XBT", "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw", "XBT", "segwit v0"),
    Case(
        "xbt-taproot",
        "XBT",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "XBT",
        "segwit v1",
    ),
    Case("xbt-v0-in-bech32m", "XBT", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", None),
    Case(
        "xbt-testnet-on-mainnet-list",
        "XBT",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        None,
    ),
    Case("xbt-bad-checksum", "XBT", _flip("12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9", 5), None),
    Case("xbt-litecoin-version", "XBT", "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb", None),
    Case("ltc-p2pkh", "LTC", "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb", "LTC", "p2pkh"),
    Case("ltc-segwit", "LTC", LTC_SEGWIT, "LTC", "segwit v0"),
    Case("ltc-bitcoin-segwit", "LTC", "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw", None),
    Case("bch-cashaddr", "BCH", "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq", "BCH", "cashaddr p2pkh"),
    Case(
        "bch-cashaddr-prefixed",
        "BCH",
        "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
        "BCH",
        "cashaddr p2sh",
    ),
    Case("bch-legacy", "BCH", "18M8bJWMzWHDBMxoLqjHHAffdRy4SrzkfB", "BCH", "p2pkh"),
    Case("bch-cashaddr-bad-checksum", "BCH", "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhp", None),
    Case("bsv", "BSV", "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9", "BSV", "p2pkh"),
    Case("btg", "BTG", "GPwg61XoHqQPNmAucFACuQ5H9sGCDv9TpS", "BTG", "p2pkh"),
    Case("dash", "DASH", "XnPFsRWTaSgiVauosEwQ6dEitGYXgwznz2", "DASH", "p2pkh"),
    Case("dash-bitcoin-address", "DASH", "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9", None),
    Case("xvg", "XVG", "DFFJhnQNZf8rf67tYnesPu7MuGUpYtzv7Z", "XVG", "p2pkh"),
    Case("zec-transparent", "ZEC", "t1MMXtBrSp1XG38Lx9cePcNUCJj5vdWfUWL", "ZEC", "transparent p2pkh"),
    Case("zec-sapling", "ZEC", SAPLING, "ZEC", "sapling"),
    Case("zec-sapling-bad-checksum", "ZEC", SAPLING[:-1] + ("q" if SAPLING[-1] != "q" else "p"), None),
    Case("trx", "TRX", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", "TRX", "tron account"),
    Case("trx-hex", "TRC20", "415a523b449890854c8fc460ab602df9f31fe4293f", "TRX", "tron hex"),
    Case("trx-bad-checksum", "TRX", _flip("TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", 4), None),
    Case("xrp-classic", "XRP", "rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh66", "XRP", "classic"),
    Case("xrp-x-address", "XRP", "XVLhHMPHU98es4dbozjVtdWzVrDjtV8xvjGQTYPiAx6gwDC", "XRP", "x-address"),
    Case("xrp-bitcoin-alphabet", "XRP", "12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9", None),
    Case(
        "xmr-standard",
        "XMR",
        "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL",
        "XMR",
        "monero standard",
    ),
    Case(
        "xmr-not-an-address", "XMR", "5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320", None
    ),
    Case("eth-eip55", "ETH", "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1", "ETH", "evm eip55"),
    Case("eth-lower", "ETH", "0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1", "ETH", "evm"),
    Case("eth-bad-eip55", "ETH", _flip("0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1", 16), None),
    Case("eth-short", "ETH", "0x01e2919679362dfbc9ee1644ba9c6da6d6245b", None),
    Case("bsc-alias", "BEP20", "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c", "BSC", "evm"),
    Case("usdt-on-evm", "USDT", "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2", "USDT", "evm eip55"),
    Case("usdt-on-tron", "USDT", "TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR", "TRX", "tron account"),
    Case("usdt-on-omni", "USDT", "16iWn2J1McqjToYLHSsAyS6En3QA8YQ91H", "XBT", "p2pkh"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_per_network(case: Case) -> None:
    verdict = networks.validate(case.address, case.network)
    if case.valid_as is None:
        assert isinstance(verdict, networks.Invalid) and verdict.problem
    else:
        assert verdict == networks.Valid(case.valid_as, case.kind or "")


def test_unknown_network_is_stored_for_exact_matching() -> None:
    assert networks.validate("EQAvDfWFG0oYX19jwNDNBBL1rKNT9XfaGP9HyTb5nb2Eml6y", "TON") is None
    result = check_entries(
        [(0, "EQAvDfWFG0oYX19jwNDNBBL1rKNT9XfaGP9HyTb5nb2Eml6y", "TON"), (1, "binancecold", None)]
    )
    assert result.accepted and result.exact_only == 2 and not result.valid_by_network
    assert all(e.validated_as is None for e in result.stored)
    assert "2 entries have no network known here" in " ".join(result.notes())


def test_unknown_network_still_refuses_a_bad_eip55_or_a_malformed_form() -> None:
    bad = check_entry(0, _flip("0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1", 16), None)
    assert isinstance(bad, EntryProblem) and "EIP-55" in bad.problem
    malformed = check_entry(1, "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmq", "SOMECHAIN")
    assert isinstance(malformed, EntryProblem) and "checksum" in malformed.problem


def test_the_packaged_list_validates_but_for_one_entry_and_one_on_another_network() -> None:
    result = check_entries(PACKAGED)
    assert [(p.network, p.address[:8]) for p in result.problems] == [("XMR", "5be5543f")]
    assert result.case_folded == 0 and result.exact_only == 0
    # OFAC lists one Tron address as XBT: stored, matched, and said so.
    assert result.other_network == 1
    moved = [e for e in result.stored if e.note]
    assert [(e.network, e.validated_as) for e in moved] == [("XBT", "TRX")]
    assert result.valid_by_network["ETH"] == 152 and result.valid_by_network["XBT"] == 434
    assert sum(result.valid_by_network.values()) + result.other_network + len(result.problems) == len(
        PACKAGED
    )


def test_a_case_folded_source_is_named_with_how_many_entries_it_affects() -> None:
    folded = [(i, address.lower(), network) for i, address, network in PACKAGED]
    result = check_entries(folded)
    base58_entries = [
        (i, address)
        for i, address, network in PACKAGED
        if not address.lower().startswith(("0x", "bc1", "q", "p")) and address != address.lower()
    ]
    assert result.case_folded == len(base58_entries) > 400 - 20  # "about 400" (issue 13)
    assert f"source looks case-folded: {result.case_folded} entries" in result.notes()
    flagged = {p.index for p in result.problems if p.case_folded}
    assert flagged == {i for i, _ in base58_entries}
    assert all(p.problem == CASE_FOLDED for p in result.problems if p.case_folded)
    # What keeps its meaning in lower case is still accepted: EVM, bech32, cashaddr.
    assert result.valid_by_network["ETH"] == 152 and result.valid_by_network["BCH"] == 6


def test_a_lower_case_entry_that_is_genuinely_lower_case_is_not_case_folded() -> None:
    stored = check_entry(0, "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw", "XBT")
    assert isinstance(stored, StoredEntry)
    typo = check_entry(1, "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmq", "XBT")
    assert isinstance(typo, EntryProblem) and not typo.case_folded


def test_stored_forms_are_the_matching_keys() -> None:
    result = check_entries(
        [
            (0, "415a523b449890854c8fc460ab602df9f31fe4293f", "TRX"),
            (1, "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", "BCH"),
            (2, "XVLhHMPHU98es4dbozjVtdWzVrDjtV8xvjGQTYPiAx6gwDC", "XRP"),
            (3, "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1", "ETH"),
        ]
    )
    assert [e.normalised.key for e in result.stored] == [
        "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW",
        "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        "0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1",
    ]
    assert result.stored[2].normalised.tag == 1
    assert dict(result.valid_by_network) == {"BCH": 1, "ETH": 1, "TRX": 1, "XRP": 1}
