"""KYC rule sets built by hand from /work/shared/reference/regulations.md, as the rule
pack states them (rules/packs): Korea as home in 2018 and now, Japan as home in 2018
and now.

Level limits are exchange settings, not law; the figures here are test values."""

from __future__ import annotations

from decimal import Decimal

from kyc.rules import ForeignersRule, KycRuleSet, LevelLimit, RealNameAccountRule, Ruled

TRADE_AND_MOVE = frozenset({"order", "withdrawal", "deposit_credit", "deposit_address"})
LEVELS = {
    "basic": Ruled(
        LevelLimit(frozenset({"order"}), Decimal("1000000"), "KRW"), "kr.kyc.basic", "exchange policy"
    ),
    "standard": Ruled(
        LevelLimit(TRADE_AND_MOVE, Decimal("50000000"), "KRW"), "kr.kyc.standard", "exchange policy"
    ),
    "strict_cap": Ruled(
        LevelLimit(TRADE_AND_MOVE, Decimal("50000000"), "KRW", refuse_when="at_or_above"),
        "kr.kyc.strict_cap",
        "exchange policy",
    ),
    "full": Ruled(LevelLimit(TRADE_AND_MOVE), "kr.kyc.full", "exchange policy"),
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
    foreigners=Ruled(
        ForeignersRule(allowed=False), "kr.foreigners.2018", "[KR4] Pulse 14 Dec 2017; [KR2]; [KR7]"
    ),
    non_residents_allowed=Ruled(False, "kr.non_residents.2018", "[KR3] Hankyoreh 14 Dec 2017; [KR1]"),
    corporates_allowed=Ruled(
        False, "kr.corporates.2018", "[KR5][KR24] KoFIU guideline: corporate accounts blocked"
    ),
    level_limits=LEVELS,
    real_name_accounts={
        "KRW": Ruled(
            RealNameAccountRule(partner_bank_required_for_deposit=True),
            "kr.real_name_account.2018",
            "[KR1] Chambers/BKL; [KR2] ZDNet 23 Jan 2018: same bank; other banks withdraw only",
        )
    },
)


def kr_now(*, corporates_allowed: bool = False, resident_foreigners: bool = True) -> KycRuleSet:
    return KycRuleSet(
        home_country="KR",
        minimum_ages={"KR": MIN_AGE_KR_NOW, "JP": MIN_AGE_JP_NOW, **OTHER_MIN_AGES},
        foreigners=Ruled(
            ForeignersRule(allowed=False, residents_allowed=resident_foreigners),
            "kr.foreigners.current",
            "[KR17][KR18][KR20][KR21] resident foreigners: exchange-dependent (ARC)",
        ),
        non_residents_allowed=Ruled(False, "kr.non_residents.current", "[KR17][KR20] effectively barred"),
        corporates_allowed=Ruled(corporates_allowed, "kr.corporates.current", "[KR24][KR28] per pack"),
        level_limits=LEVELS,
        real_name_accounts={
            "KRW": Ruled(
                # The current pack keeps the same-bank rule (unverified); this test set
                # turns it off to show the flag is honoured.
                RealNameAccountRule(partner_bank_required_for_deposit=False),
                "kr.real_name_account.current",
                "[KR15][KR16] SFIA 2021: VASPs exchanging KRW need a real-name account",
            )
        },
    )


KR_NOW = kr_now()
KR_NOW_CORPORATES = kr_now(corporates_allowed=True)
KR_NOW_NO_FOREIGNERS = kr_now(resident_foreigners=False)  # the pack's conservative reading

_JP_LEVELS = {"full": Ruled(LevelLimit(TRADE_AND_MOVE), "jp.kyc.full", "[JP3][JP4]")}
_OPEN = "[JP13] age and residence set by each exchange"
JP_2018 = KycRuleSet(
    home_country="JP",
    minimum_ages={"KR": MIN_AGE_KR_2018, "JP": MIN_AGE_JP_2018, **OTHER_MIN_AGES},
    foreigners=Ruled(ForeignersRule(allowed=True), "jp.foreigners", _OPEN),
    non_residents_allowed=Ruled(True, "jp.non_residents", _OPEN),
    corporates_allowed=Ruled(True, "jp.corporates", _OPEN),
    level_limits=_JP_LEVELS,
)
JP_NOW = KycRuleSet(
    home_country="JP",
    minimum_ages={"KR": MIN_AGE_KR_NOW, "JP": MIN_AGE_JP_NOW, **OTHER_MIN_AGES},
    foreigners=Ruled(ForeignersRule(allowed=True), "jp.foreigners", _OPEN),
    non_residents_allowed=Ruled(True, "jp.non_residents", _OPEN),
    corporates_allowed=Ruled(True, "jp.corporates", _OPEN),
    level_limits=_JP_LEVELS,
)
