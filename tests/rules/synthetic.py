"""A small, synthetic rule book written to a folder: the loader and stage tests use it so
they do not depend on the shipped packs' content (tests/rules/test_pack_content.py does)."""

from __future__ import annotations

from pathlib import Path

ASSETS = """
[[assets]]
asset = "BTC"
asset_class = "payment_coin"
[[assets]]
asset = "USDT"
asset_class = "stablecoin"
[[assets]]
asset = "XMR"
asset_class = "privacy_coin"
[[assets]]
asset = "STKN"
asset_class = "security_token"
"""

ZZ = """
country = "ZZ"
name = "Baseline"
currency = "USD"
[sources]
G1 = { title = "FATF", url = "https://example.org/fatf" }
[[rules]]
id = "zz.call_for_action"
governs = "call_for_action"
countries = ["KP", "IR"]
effective_from = 2020-02-21
cite = ["G1"]
[[rules]]
id = "zz.kyc.full"
governs = "kyc_level"
level = "full"
actions = ["order", "withdrawal", "deposit_credit", "deposit_address"]
effective_from = 2017-01-01
applies_as = ["home"]
cite = ["G1"]
[[rules]]
id = "zz.travel_rule"
governs = "travel_rule"
threshold = { amount = "1000", currency = "USD", comparison = "at_or_above" }
counterparty = "any"
effective_from = 2019-06-21
cite = ["G1"]
"""

AX = """
country = "AX"
name = "Åland"
currency = "AAD"
[sources]
A1 = { title = "Åland law", url = "https://example.org/a1" }
[[rules]]
id = "ax.trading.ban"
governs = "trading"
allowed = false
effective_from = 2021-09-24
applies_as = ["residence"]
cite = ["A1"]
[[rules]]
id = "ax.privacy.2020"
governs = "asset_class"
asset_class = "privacy_coin"
allowed = false
effective_from = 2020-05-01
cite = ["A1"]
"""

BB = """
country = "BB"
name = "Bland"
currency = "BBD"
[sources]
B1 = { title = "Bland securities law", url = "https://example.org/b1" }
[[rules]]
id = "bb.securities"
governs = "asset_class"
asset_class = "security_token"
allowed = false
effective_from = 2017-01-01
applies_as = ["residence"]
cite = ["B1"]
[[rules]]
id = "bb.ny.licence"
governs = "licence"
licence = "BB-NY-LICENCE"
description = "the NY state licence"
region = "NY"
applies_as = ["residence"]
effective_from = 2015-08-08
cite = ["B1"]
"""


def write_book(folder: Path, **overrides: str) -> Path:
    files = {"assets.toml": ASSETS, "zz.toml": ZZ, "ax.toml": AX, "bb.toml": BB, **overrides}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder
