"""Loading packs: valid ones get a content version; bad ones are refused precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.book import diff
from rules.loader import PackError, load_rule_book
from tests.rules.synthetic import AX, ZZ, write_book


def test_valid_book_loads_with_a_content_version(tmp_path: Path) -> None:
    book = load_rule_book(write_book(tmp_path))
    assert sorted(book.packs) == ["AX", "BB", "ZZ"]
    assert book.version.startswith("sha256:")
    assert book.asset_class("XMR").value == "privacy_coin"  # type: ignore[union-attr]


def test_comments_do_not_make_a_new_version(tmp_path: Path) -> None:
    first = load_rule_book(write_book(tmp_path / "a")).version
    second = load_rule_book(write_book(tmp_path / "b", **{"ax.toml": "# a comment\n" + AX})).version
    changed = load_rule_book(write_book(tmp_path / "c", **{"ax.toml": AX.replace("2021-09-24", "2021-09-25")})).version
    assert first == second != changed


CASH = """
[[rules]]
id = "ax.cash_report"
governs = "cash_report"
threshold = { amount = "1000", currency = "AAD", comparison = "at_or_above" }
effective_from = 2020-01-01
cite = ["A1"]
"""
LINKED = """
[[rules]]
id = "ax.linked"
governs = "linked_transactions"
window = "30d"
direction = "both"
total = { amount = "1000", currency = "AAD", comparison = "more_than" }
effective_from = 2020-01-01
cite = ["A1"]
"""

BAD_PACKS = [
    ("float-amount", "zz.toml", ZZ.replace('amount = "1000"', "amount = 1000.5"), "zz.toml", "rules.2.travel_rule.threshold.amount"),
    ("unknown-governs", "ax.toml", AX.replace('governs = "trading"', 'governs = "weather"'), "ax.toml", "rules.0"),
    ("missing-citation", "ax.toml", AX.replace('cite = ["A1"]\n[[rules]]', "[[rules]]", 1), "ax.toml", "rules.0.trading.cite"),
    ("unknown-source", "ax.toml", AX.replace('cite = ["A1"]', 'cite = ["A9"]', 1), "ax.toml", "cites unknown sources: A9"),
    ("dates-reversed", "ax.toml", AX.replace("effective_from = 2021-09-24", "effective_from = 2021-09-24\neffective_to = 2020-01-01"), "ax.toml", "effective_to must be after"),
    ("unverified-without-note", "ax.toml", AX.replace("allowed = false\neffective_from = 2021", "allowed = false\nunverified = true\neffective_from = 2021"), "ax.toml", "needs a note"),
    ("bad-comparison", "zz.toml", ZZ.replace("at_or_above", "roughly"), "zz.toml", "comparison"),
    ("duplicate-rule-id", "ax.toml", AX.replace('id = "ax.privacy.2020"', 'id = "ax.trading.ban"'), "ax.toml", "used twice: ax.trading.ban"),
    ("not-toml", "ax.toml", "country = ", "ax.toml", "not valid TOML"),
    ("country-mismatch", "ax.toml", AX.replace('country = "AX"', 'country = "BB"'), "ax.toml", "country"),
    ("unknown-field", "ax.toml", AX.replace("allowed = false", "allowed = false\nvibes = true", 1), "ax.toml", "vibes"),
    # What a cash report covers and over what period is stated, never assumed.
    ("cash-report-without-rails", "ax.toml", AX + CASH + 'period = "day"\n', "ax.toml", "rules.2.cash_report.rails: Field required"),
    ("cash-report-unknown-rail", "ax.toml", AX + CASH + 'period = "day"\nrails = ["cash_in_hand"]\n', "ax.toml", "rules.2.cash_report.rails.0"),
    ("cash-report-no-rails", "ax.toml", AX + CASH + 'period = "day"\nrails = []\n', "ax.toml", "rules.2.cash_report.rails"),
    ("cash-report-without-period", "ax.toml", AX + CASH + 'rails = ["bank"]\n', "ax.toml", "rules.2.cash_report.period: Field required"),
    ("cash-report-weekly", "ax.toml", AX + CASH + 'rails = ["bank"]\nperiod = "week"\n', "ax.toml", "rules.2.cash_report.period"),
    # Whom a travel rule covers, and which data must travel.
    ("travel-rule-without-counterparty", "zz.toml", ZZ.replace('counterparty = "any"\n', ""), "zz.toml", "rules.2.travel_rule.counterparty: Field required"),
    ("travel-rule-bad-counterparty", "zz.toml", ZZ.replace('counterparty = "any"', 'counterparty = "banks"'), "zz.toml", "rules.2.travel_rule.counterparty"),
    ("travel-rule-unknown-data", "zz.toml", ZZ.replace('counterparty = "any"', 'counterparty = "any"\nrequired_data = ["originator.shoe_size"]'), "zz.toml", "rules.2.travel_rule.required_data.0.0"),
    ("travel-rule-empty-alternatives", "zz.toml", ZZ.replace('counterparty = "any"', 'counterparty = "any"\nrequired_data = [[]]'), "zz.toml", "at least one element"),
    ("travel-rule-alternatives-of-two-parties", "zz.toml", ZZ.replace('counterparty = "any"', 'counterparty = "any"\nrequired_data = [["originator.address", "beneficiary.account_number"]]'), "zz.toml", "one party"),
    # Linked transactions name the levels they bind and a window the windows know.
    ("linked-without-levels", "ax.toml", AX + LINKED, "ax.toml", "rules.2.linked_transactions.levels: Field required"),
    ("linked-bad-window", "ax.toml", AX + LINKED.replace('"30d"', '"90d"') + 'levels = ["basic"]\n', "ax.toml", "rules.2.linked_transactions.window"),
    ("linked-bad-level", "ax.toml", AX + LINKED + 'levels = ["Basic Level"]\n', "ax.toml", "rules.2.linked_transactions.levels.0"),
]


@pytest.mark.parametrize(("file", "text", "named_file", "named_field"), [c[1:] for c in BAD_PACKS], ids=[c[0] for c in BAD_PACKS])
def test_bad_pack_is_refused_naming_file_and_field(tmp_path: Path, file: str, text: str, named_file: str, named_field: str) -> None:
    with pytest.raises(PackError) as caught:
        load_rule_book(write_book(tmp_path, **{file: text}))
    assert caught.value.file == named_file
    assert named_field in str(caught.value)


def test_default_pack_is_required(tmp_path: Path) -> None:
    folder = write_book(tmp_path)
    (folder / "zz.toml").unlink()
    with pytest.raises(PackError, match="default pack"):
        load_rule_book(folder)


def test_diff_names_added_removed_and_changed_rules(tmp_path: Path) -> None:
    old = load_rule_book(write_book(tmp_path / "old"))
    new_aa = AX.replace("2021-09-24", "2021-10-01").replace('id = "ax.privacy.2020"', 'id = "ax.privacy.2021"')
    new = load_rule_book(write_book(tmp_path / "new", **{"ax.toml": new_aa}))
    changes = diff(old.all_rules(), new.all_rules())
    assert changes["added"] == ["ax.privacy.2021"]
    assert changes["removed"] == ["ax.privacy.2020"]
    assert changes["changed"] == {"ax.trading.ban": {"effective_from": {"from": "2021-09-24", "to": "2021-10-01"}}}
