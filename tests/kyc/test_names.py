from __future__ import annotations

from dataclasses import dataclass

import pytest

from kyc.names import NameMatchReason, match_holder_name, normalise_name


@dataclass(frozen=True)
class Case:
    id: str
    holder: str
    legal: str
    native: str | None
    matches: bool
    reason: NameMatchReason
    compared_with: str | None = None


R = NameMatchReason
CASES = [
    Case("hangul-exact", "김민준", "Kim Minjun", "김민준", True, R.EXACT, "native_name"),
    Case("hangul-bank-adds-space", "김 민준", "Kim Minjun", "김민준", True, R.SPACING, "native_name"),
    Case("hangul-kyc-has-space", "김민준", "Kim Minjun", "김 민 준", True, R.SPACING, "native_name"),
    Case("hangul-one-syllable-differs", "김민주", "Kim Minjun", "김민준", False, R.MISMATCH),
    Case("hangul-order-matters", "민준김", "Kim Minjun", "김민준", False, R.MISMATCH),
    Case("hangul-without-native-name", "김민준", "Kim Minjun", None, False, R.MISMATCH),
    Case("latin-order-and-case", "KIM MINJUN", "Minjun Kim", None, True, R.WORD_ORDER, "legal_name"),
    Case("latin-same-order-other-case", "KIM MINJUN", "Kim Minjun", None, True, R.EXACT, "legal_name"),
    Case("latin-hyphenated-given-name", "MIN-JUN KIM", "Kim Minjun", None, True, R.WORD_ORDER, "legal_name"),
    Case("latin-split-given-name", "KIM MIN JUN", "Minjun Kim", None, True, R.WORD_ORDER, "legal_name"),
    Case("latin-punctuation", "O'BRIEN, SEAN", "Sean OBrien", None, True, R.WORD_ORDER, "legal_name"),
    # A bank's masked holder name is not a shorter name: 김*준 (for 김민준) is not 김준.
    Case("hangul-masked-is-not-shorter-name", "김*준", "Kim Jun", "김준", False, R.MISMATCH),
    Case("hangul-circle-masked", "김○준", "Kim Jun", "김준", False, R.MISMATCH),
    Case("latin-masked-is-not-shorter-name", "KIM MIN*", "Kim Min", None, False, R.MISMATCH),
    Case("hangul-middle-dot-dropped", "김·민준", "Kim Minjun", "김민준", True, R.EXACT, "native_name"),
    Case("latin-extra-spaces", "  Sean   O'Brien ", "Sean O'Brien", None, True, R.EXACT, "legal_name"),
    Case(
        "latin-diacritics-dropped-by-bank",
        "HANS MULLER",
        "Hans Müller",
        None,
        True,
        R.DIACRITICS,
        "legal_name",
    ),
    Case("latin-full-width", "ＫＩＭ　ＭＩＮＪＵＮ", "Kim Minjun", None, True, R.EXACT, "legal_name"),  # noqa: RUF001
    Case("cyrillic-word-order", "ИВАНОВ ИВАН", "Иван Иванов", None, True, R.WORD_ORDER, "legal_name"),
    Case("cyrillic-short-i-is-not-i", "ЙОВАН", "Иован", None, False, R.MISMATCH),
    Case("latin-one-letter-differs", "KIM MINJOON", "Minjun Kim", None, False, R.MISMATCH),
    Case("latin-missing-word", "KIM", "Minjun Kim", None, False, R.MISMATCH),
    Case("latin-extra-word", "KIM MINJUN LEE", "Minjun Kim", None, False, R.MISMATCH),
    Case("kanji-space", "山田 太郎", "Taro Yamada", "山田太郎", True, R.SPACING, "native_name"),
    Case("hangul-holder-vs-latin-kyc", "김민준", "Kim Minjun", None, False, R.MISMATCH),
    Case("empty-holder", " ,. ", "Kim Minjun", "김민준", False, R.HOLDER_NAME_EMPTY),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_match_holder_name(case: Case) -> None:
    result = match_holder_name(case.holder, case.legal, case.native)
    assert (result.matches, result.reason, result.compared_with) == (
        case.matches,
        case.reason,
        case.compared_with,
    )


def test_normalise_name() -> None:
    assert normalise_name("  O'Brien,   SEAN.  ") == "obrien sean"
    assert normalise_name("Straße") == "strasse"  # case-fold, not lower()
    assert normalise_name("ＡＢＣ") == "abc"  # NFKC  # noqa: RUF001
