"""Does the holder name a bank reports match the customer's KYC name?

Korea's real-name system lets KRW move only through an account in the customer's own
name (regulations.md, KR 2018 [KR1][KR2]); the bank reports the holder name and this
module compares it with the legal name and the native-script name on the KYC record.
The comparison forgives presentation (case, width, punctuation, spacing, word order,
Latin diacritics) and nothing else: one different letter is a mismatch.
"""

from __future__ import annotations

import enum
import itertools
import unicodedata
from dataclasses import dataclass

# Beyond this many words, trying every order costs too much; word sets are compared.
_MAX_PERMUTED_WORDS = 6


class NameMatchReason(enum.StrEnum):
    EXACT = "exact"  # equal after normalisation
    SPACING = "spacing_ignored"  # Hangul/CJK names, equal without spaces
    DIACRITICS = "diacritics_ignored"  # Latin names, equal once accents are dropped
    WORD_ORDER = "word_order_ignored"  # Latin names, same words in another order
    MISMATCH = "holder_name_mismatch"
    HOLDER_NAME_EMPTY = "holder_name_empty"


@dataclass(frozen=True, slots=True)
class NameMatch:
    matches: bool
    reason: NameMatchReason
    compared_with: str | None  # "legal_name" or "native_name": the KYC name that matched


# What names are written with between their letters, and banks drop or keep at will:
# apostrophes, full stops, commas, middle dots (Korean, Chinese, Japanese), and dashes.
_SEPARATORS = frozenset("'\u2018\u2019`.,\u00b7\u30fb\u2027")


def normalise_name(name: str) -> str:
    """NFKC, case-folded, separators dropped, whitespace collapsed. Any other mark is
    kept, so it cannot match: a bank's masked holder name "김*준" (for 김민준) must not
    read as 김준, someone else's name."""
    text = unicodedata.normalize("NFKC", name).casefold()
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch not in _SEPARATORS and unicodedata.category(ch) != "Pd"
    )
    return " ".join(kept.split())


def _is_unspaced_script(ch: str) -> bool:
    # Korean, Chinese and Japanese names are written without spaces; banks and forms
    # insert them inconsistently ("김 민준" / "김민준"), so spaces do not count there.
    name = unicodedata.name(ch, "")
    return name.startswith(("HANGUL", "CJK", "HIRAGANA", "KATAKANA"))


def _fold_latin(name: str) -> str:
    # Banks often drop diacritics ("MULLER" for "Müller"). Only Latin letters are folded:
    # decomposing Hangul or kana would change the letters themselves.
    if not all(unicodedata.name(ch, "").startswith("LATIN") for ch in name if ch.isalpha()):
        return name
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _concatenations(words: list[str]) -> set[str]:
    return {"".join(order) for order in itertools.permutations(words)}


def _compare(holder: str, kyc: str) -> NameMatchReason:
    if holder == kyc:
        return NameMatchReason.EXACT
    if any(_is_unspaced_script(ch) for ch in holder + kyc):
        same = holder.replace(" ", "") == kyc.replace(" ", "")
        return NameMatchReason.SPACING if same else NameMatchReason.MISMATCH
    holder_words, kyc_words = _fold_latin(holder).split(), _fold_latin(kyc).split()
    if holder_words == kyc_words:
        return NameMatchReason.DIACRITICS
    if sorted(holder_words) == sorted(kyc_words):
        return NameMatchReason.WORD_ORDER
    # "KIM MINJUN" vs "Min-jun Kim": a given name may be one word or two.
    if max(len(holder_words), len(kyc_words)) <= _MAX_PERMUTED_WORDS and (
        _concatenations(holder_words) & _concatenations(kyc_words)
    ):
        return NameMatchReason.WORD_ORDER
    return NameMatchReason.MISMATCH


def match_holder_name(holder_name: str, legal_name: str, native_name: str | None = None) -> NameMatch:
    """Compare the bank-reported holder name with the KYC legal and native-script names."""
    holder = normalise_name(holder_name)
    if not holder:
        return NameMatch(False, NameMatchReason.HOLDER_NAME_EMPTY, None)
    candidates = [("legal_name", legal_name)] + ([("native_name", native_name)] if native_name else [])
    for label, kyc_name in candidates:
        kyc = normalise_name(kyc_name)
        if not kyc:
            continue
        reason = _compare(holder, kyc)
        if reason is not NameMatchReason.MISMATCH:
            return NameMatch(True, reason, label)
    return NameMatch(False, NameMatchReason.MISMATCH, None)
