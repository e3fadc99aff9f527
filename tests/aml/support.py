"""Shared test data: a clock, exchange prices and an FX table, rule builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from aml.money import FxTable, Prices, Quote, Valuer
from rules.model import CashReportRule, RollingWindowRule, SelfHostedRule, StructuringRule, TravelRule

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
PRICE_MAX_AGE = timedelta(seconds=60)
FX_MAX_AGE = timedelta(days=1)
D = Decimal

PRICES: Prices = MappingProxyType({
    ("BTC", "USDT"): Quote(D("60000"), NOW - timedelta(seconds=10)),
    ("ETH", "USDT"): Quote(D("2500"), NOW - timedelta(seconds=10)),
})
FX: FxTable = MappingProxyType({
    ("USDT", "USD"): Quote(D("1"), NOW - timedelta(hours=1)),
    ("USD", "KRW"): Quote(D("1350"), NOW - timedelta(hours=1)),
    ("USD", "JPY"): Quote(D("150"), NOW - timedelta(hours=1)),
    ("USD", "HKD"): Quote(D("7.8"), NOW - timedelta(hours=1)),
    ("USD", "CHF"): Quote(D("0.9"), NOW - timedelta(hours=1)),
    ("USD", "EUR"): Quote(D("0.8"), NOW - timedelta(hours=1)),
    ("USD", "CNY"): Quote(D("7.2"), NOW - timedelta(hours=1)),
})


def valuer(amount: str, asset: str, prices: Prices = PRICES, fx: FxTable = FX) -> Valuer:
    return Valuer(D(amount), asset, prices, fx, NOW, PRICE_MAX_AGE, fx_max_age=FX_MAX_AGE)


_COMMON = {"effective_from": "2018-01-01", "cite": ["T1"]}


def _threshold(amount: str, currency: str, comparison: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency, "comparison": comparison}


def travel_rule(
    rule_id: str,
    amount: str,
    currency: str,
    applies_as: str = "home",
    counterparty: str = "any",
    required_data: list[str | list[str]] | None = None,
) -> TravelRule:
    return TravelRule.model_validate(
        {
            "id": rule_id,
            "governs": "travel_rule",
            "threshold": _threshold(amount, currency, "at_or_above"),
            "applies_as": [applies_as],
            "counterparty": counterparty,
            "required_data": required_data or [],
            **_COMMON,
        }
    )


def cash_report_rule(
    rule_id: str,
    amount: str,
    currency: str,
    comparison: str,
    rails: tuple[str, ...] = ("bank",),
    period: str = "day",
) -> CashReportRule:
    return CashReportRule.model_validate(
        {
            "id": rule_id,
            "governs": "cash_report",
            "threshold": _threshold(amount, currency, comparison),
            "rails": list(rails),
            "period": period,
            **_COMMON,
        }
    )


def self_hosted_rule(rule_id: str, amount: str, currency: str, comparison: str) -> SelfHostedRule:
    return SelfHostedRule.model_validate(
        {
            "id": rule_id,
            "governs": "self_hosted_ownership",
            "threshold": _threshold(amount, currency, comparison),
            **_COMMON,
        }
    )


def rolling_rule(
    rule_id: str,
    window: str,
    direction: str,
    *,
    total: tuple[str, str, str] | None = None,
    count: int | None = None,
    outcome: str = "allow_and_report",
) -> RollingWindowRule:
    return RollingWindowRule.model_validate(
        {
            "id": rule_id,
            "governs": "rolling_window",
            "window": window,
            "direction": direction,
            "total": _threshold(*total) if total else None,
            "count": count,
            "outcome": outcome,
            **_COMMON,
        }
    )


def structuring_rule(
    amount: str,
    currency: str,
    comparison: str = "at_or_above",
    band: str = "10",
    count: int = 3,
    window: str = "24h",
) -> StructuringRule:
    return StructuringRule.model_validate(
        {
            "id": "test.structuring",
            "governs": "structuring",
            "reference": _threshold(amount, currency, comparison),
            "band_percent": band,
            "count": count,
            "window": window,
            **_COMMON,
        }
    )
