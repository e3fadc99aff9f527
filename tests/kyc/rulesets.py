"""KYC rule sets built by hand from /work/shared/reference/regulations.md, as the rule
pack states them (rules/packs): Korea as home in 2018 and now, Japan as home in 2018
and now.

Level limits are exchange settings, not law; the figures here are test values."""

from __future__ import annotations

from typing import Any

from kyc.rules import KycRuleSet, Ruled
from rules.model import ForeignersRule, KycLevelRule, RealNameAccountRule

TRADE_AND_MOVE = ("order", "withdrawal", "deposit_credit", "deposit_address")


def _pack_rule(kind: Any, rule_id: str, governs: str, **values: Any) -> Any:
    """A rule as a pack states it (validated as the loader validates it)."""
    return kind.model_validate(
        {"id": rule_id, "governs": governs, "effective_from": "2000-01-01", "cite": ["test"], **values}
    )


def level(
    rule_id: str, name: str, actions: tuple[str, ...], cap: dict[str, str] | None = None
) -> Ruled[KycLevelRule]:
    rule = _pack_rule(KycLevelRule, rule_id, "kyc_level", level=name, actions=actions, max_amount=cap)
    return Ruled(rule, rule_id, "exchange policy")


def foreigners(
    rule_id: str, cite: str, *, allowed: bool, residents_allowed: bool = False
) -> Ruled[ForeignersRule | None]:
    rule = _pack_rule(
        ForeignersRule, rule_id, "foreigners", allowed=allowed, residents_allowed=residents_allowed
    )
    return Ruled(rule, rule_id, cite)


def real_name(
    rule_id: str, cite: str, *, partner_bank_required_for_deposit: bool
) -> Ruled[RealNameAccountRule]:
    rule = _pack_rule(RealNameAccountRule, rule_id, "real_name_account", currency="KRW",
                      partner_bank_required_for_deposit=partner_bank_required_for_deposit)  # fmt: skip
    return Ruled(rule, rule_id, cite)


KRW_50M = {"amount": "50000000", "currency": "KRW", "comparison": "more_than"}
LEVELS = {
    "basic": level(
        "kr.kyc.basic",
        "basic",
        ("order",),
        {"amount": "1000000", "currency": "KRW", "comparison": "more_than"},
    ),
    "standard": level("kr.kyc.standard", "standard", TRADE_AND_MOVE, KRW_50M),
    "strict_cap": level(
        "kr.kyc.strict_cap", "strict_cap", TRADE_AND_MOVE, KRW_50M | {"comparison": "at_or_above"}
    ),
    "full": level("kr.kyc.full", "full", TRADE_AND_MOVE),
}

# Minimum ages. KR 19: Civil Act minors barred [KR3][KR7], still barred now [KR19][KR20].
# JP: no statute, exchange policy; civil majority 20 until 31 Mar 2022, 18 since
# 1 Apr 2022 (regulations.json JP min_age_basis). CH 18: civil majority (unverified).
# US 18 by platform policy, with state ages of majority (AL, NE 19; MS 21: general law,
# unverified). EE, HK, CN: no statute found; 18 as the conservative platform default.
MIN_AGE_KR_2018 = Ruled(19, "kr.min_age.2018", "[KR3] Hankyoreh 14 Dec 2017; [KR7] MBN Jan 2018")
MIN_AGE_KR_NOW = Ruled(19, "kr.min_age.current", "[KR19] Upbit terms; [KR20] exchange CDD notice")
MIN_AGE_JP_2018 = Ruled(20, "jp.min_age.2018", "[JP13]; civil majority 20 until 31 Mar 2022 (unverified)")
MIN_AGE_JP_NOW = Ruled(18, "jp.min_age.current", "[JP13] Zaif 18-79; civil majority 18 since 1 Apr 2022")
OTHER_MIN_AGES = {
    "US": Ruled(18, "us.min_age", "regulations.json US: platform policy / state age of majority"),
    "US-AL": Ruled(19, "us.min_age.al", "Alabama age of majority 19 (unverified)"),
    "US-NE": Ruled(19, "us.min_age.ne", "Nebraska age of majority 19 (unverified)"),
    "US-MS": Ruled(21, "us.min_age.ms", "Mississippi age of majority 21 (unverified)"),
    "CH": Ruled(18, "ch.min_age", "regulations.json CH notes: civil majority 18 (unverified)"),
    "EE": Ruled(18, "ee.min_age", "no statute found (regulations.md EE); platform default"),
    "HK": Ruled(18, "hk.min_age", "no statute found (regulations.md HK); platform default"),
    "CN": Ruled(18, "cn.min_age", "CN residents are barred by the country stage; platform default"),
}

KR_2018 = KycRuleSet(
    home_country="KR",
    minimum_ages={"KR": MIN_AGE_KR_2018, "JP": MIN_AGE_JP_2018, **OTHER_MIN_AGES},
    foreigners=foreigners("kr.foreigners.2018", "[KR4] Pulse 14 Dec 2017; [KR2]; [KR7]", allowed=False),
    non_residents_allowed=Ruled(False, "kr.non_residents.2018", "[KR3] Hankyoreh 14 Dec 2017; [KR1]"),
    corporates_allowed=Ruled(
        False, "kr.corporates.2018", "[KR5][KR24] KoFIU guideline: corporate accounts blocked"
    ),
    level_limits=LEVELS,
    real_name_accounts={
        "KRW": real_name(
            "kr.real_name_account.2018",
            "[KR1] Chambers/BKL; [KR2] ZDNet 23 Jan 2018: same bank; other banks withdraw only",
            partner_bank_required_for_deposit=True,
        )
    },
)


def kr_now(*, corporates_allowed: bool = False, resident_foreigners: bool = True) -> KycRuleSet:
    return KycRuleSet(
        home_country="KR",
        minimum_ages={"KR": MIN_AGE_KR_NOW, "JP": MIN_AGE_JP_NOW, **OTHER_MIN_AGES},
        foreigners=foreigners(
            "kr.foreigners.current",
            "[KR17][KR18][KR20][KR21] resident foreigners: exchange-dependent (ARC)",
            allowed=False,
            residents_allowed=resident_foreigners,
        ),
        non_residents_allowed=Ruled(False, "kr.non_residents.current", "[KR17][KR20] effectively barred"),
        corporates_allowed=Ruled(corporates_allowed, "kr.corporates.current", "[KR24][KR28] per pack"),
        level_limits=LEVELS,
        real_name_accounts={
            # The current pack keeps the same-bank rule (unverified); this test set
            # turns it off to show the flag is honoured.
            "KRW": real_name(
                "kr.real_name_account.current",
                "[KR15][KR16] SFIA 2021: VASPs exchanging KRW need a real-name account",
                partner_bank_required_for_deposit=False,
            )
        },
    )


KR_NOW = kr_now()
KR_NOW_CORPORATES = kr_now(corporates_allowed=True)
KR_NOW_NO_FOREIGNERS = kr_now(resident_foreigners=False)  # the pack's conservative reading

_JP_LEVELS = {"full": level("jp.kyc.full", "full", TRADE_AND_MOVE)}
_OPEN = "[JP13] age and residence set by each exchange"
JP_2018 = KycRuleSet(
    home_country="JP",
    minimum_ages={"KR": MIN_AGE_KR_2018, "JP": MIN_AGE_JP_2018, **OTHER_MIN_AGES},
    foreigners=foreigners("jp.foreigners", _OPEN, allowed=True),
    non_residents_allowed=Ruled(True, "jp.non_residents", _OPEN),
    corporates_allowed=Ruled(True, "jp.corporates", _OPEN),
    level_limits=_JP_LEVELS,
)
JP_NOW = KycRuleSet(
    home_country="JP",
    minimum_ages={"KR": MIN_AGE_KR_NOW, "JP": MIN_AGE_JP_NOW, **OTHER_MIN_AGES},
    foreigners=foreigners("jp.foreigners", _OPEN, allowed=True),
    non_residents_allowed=Ruled(True, "jp.non_residents", _OPEN),
    corporates_allowed=Ruled(True, "jp.corporates", _OPEN),
    level_limits=_JP_LEVELS,
)
