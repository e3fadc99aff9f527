"""What a rule pack file may say. Every rule names what it governs, when it is in force,
and where the fact comes from; thresholds carry their currency and comparison."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aml.ivms101 import TravelData

COUNTRY = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
CURRENCY = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
LEVEL = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]  # a kyc_level rule's level
RULE_ID = Annotated[str, Field(pattern=r"^[a-z0-9]+(\.[a-z0-9_]+)+$", max_length=80)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(enum.StrEnum):
    AT_OR_ABOVE = "at_or_above"  # ">=", Korean 이상
    MORE_THAN = "more_than"  # ">"


class Threshold(Strict):
    amount: Decimal = Field(ge=0)
    currency: CURRENCY
    comparison: Comparison

    @field_validator("amount", mode="before")
    @classmethod
    def _no_floats(cls, value: object) -> object:
        # TOML floats are binary; money must be written as a string or an integer.
        if isinstance(value, float):
            raise ValueError("write amounts as strings or integers, never floats")
        return value

    def crossed_by(self, value: Decimal) -> bool:
        if self.comparison is Comparison.AT_OR_ABOVE:
            return value >= self.amount
        return value > self.amount


class AssetClass(enum.StrEnum):
    PAYMENT_COIN = "payment_coin"
    STABLECOIN = "stablecoin"
    PRIVACY_COIN = "privacy_coin"
    SECURITY_TOKEN = "security_token"
    ICO_TOKEN = "ico_token"


class AppliesAs(enum.StrEnum):
    HOME = "home"  # the exchange operates from this jurisdiction: applies to every customer
    RESIDENCE = "residence"  # applies to this jurisdiction's residents, wherever the exchange is


class Window(enum.StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"  # Switzerland's linked transactions: 30 days


class Rail(enum.StrEnum):
    """How money moves. A cash report covers cash, which reaches an exchange as fiat
    through its bank (the real-name account rail in Korea), not virtual-asset transfers."""

    BANK = "bank"  # fiat through a bank account: the nearest an exchange comes to cash
    VIRTUAL_ASSET = "virtual_asset"  # a transfer on a chain


class Counterparty(enum.StrEnum):
    """Whom a travel-rule rule covers on the other side of the transfer."""

    VASP = "vasp"  # another virtual-asset service provider (an exchange, a custodian)
    SELF_HOSTED = "self_hosted"  # a wallet the customer or someone else holds the keys to
    ANY = "any"


class Direction(enum.StrEnum):
    DEPOSITS = "deposits"
    WITHDRAWALS = "withdrawals"
    BOTH = "both"


class _Rule(Strict):
    id: RULE_ID
    effective_from: date
    effective_to: date | None = None  # exclusive
    applies_as: tuple[AppliesAs, ...] = (AppliesAs.HOME, AppliesAs.RESIDENCE)
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # e.g. a US state
    cite: tuple[str, ...] = Field(min_length=1)
    # Set where the reference could not confirm the fact: the value is then the
    # conservative choice, and `note` says why.
    unverified: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _dates_in_order(self) -> _Rule:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        if self.unverified and not self.note:
            raise ValueError("an unverified rule needs a note saying what was assumed")
        return self

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class TradingRule(_Rule):
    governs: Literal["trading"]
    allowed: bool


class AssetClassRule(_Rule):
    governs: Literal["asset_class"]
    asset_class: AssetClass
    allowed: bool


class LicenceRule(_Rule):
    governs: Literal["licence"]
    licence: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str


class MinimumAgeRule(_Rule):
    governs: Literal["minimum_age"]
    years: int = Field(ge=0, le=30)


class ForeignersRule(_Rule):
    governs: Literal["foreigners"]
    allowed: bool
    residents_allowed: bool = False  # foreign nationals who reside in the country


class NonResidentsRule(_Rule):
    governs: Literal["non_residents"]
    allowed: bool


class CorporatesRule(_Rule):
    governs: Literal["corporates"]
    allowed: bool


class RealNameAccountRule(_Rule):
    governs: Literal["real_name_account"]
    currency: CURRENCY
    # 2018 Korea: an account at another bank may withdraw but not deposit.
    partner_bank_required_for_deposit: bool


class KycLevelRule(_Rule):
    governs: Literal["kyc_level"]
    level: str = Field(pattern=r"^[a-z0-9_]+$")
    actions: tuple[Literal["order", "withdrawal", "deposit_credit", "deposit_address"], ...]
    max_amount: Threshold | None = None  # the largest single movement this level may make


DataGroup = tuple[TravelData, ...]  # alternatives: one of them must travel


class TravelRule(_Rule):
    governs: Literal["travel_rule"]
    threshold: Threshold
    # Which transfers it covers: Korea's applies VASP-to-VASP only; Switzerland's has no
    # exemption for unhosted wallets. Stated by every rule, never assumed.
    counterparty: Counterparty
    # Originator and beneficiary data that must travel beyond IVMS101's own minimum (the
    # names): each entry one element, or a list of alternatives of which one must be there
    # (Hong Kong: an address, or an ID number, or the date and place of birth).
    required_data: tuple[DataGroup, ...] = ()
    # What a receiving exchange does with a deposit that arrives without the data (or with
    # data that is invalid, incomplete or not for this customer): "hold" parks it for an
    # officer (FATF INR.16's "suspend", EU TFR Art. 17's "ask before making available"),
    # "deny" refuses it (to be returned or frozen). Unstated: hold, the funds stay unavailable.
    inbound_missing: Literal["hold", "deny"] = "hold"

    @field_validator("required_data", mode="before")
    @classmethod
    def _one_or_alternatives(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [[entry] if isinstance(entry, str) else entry for entry in value]
        return value

    @field_validator("required_data")
    @classmethod
    def _groups_of_one_party(cls, value: tuple[DataGroup, ...]) -> tuple[DataGroup, ...]:
        for group in value:
            if not group:
                raise ValueError("an entry of required_data names at least one element")
            if len({element.value.split(".")[0] for element in group}) > 1:
                raise ValueError("the alternatives of one entry are data about one party")
        return value

    def covers(self, counterparty: Counterparty) -> bool:
        """Does the rule cover a transfer to (or from) this kind of counterparty?"""
        return self.counterparty is Counterparty.ANY or self.counterparty is counterparty


class SelfHostedRule(_Rule):
    governs: Literal["self_hosted_ownership"]
    threshold: Threshold


class CashReportRule(_Rule):
    governs: Literal["cash_report"]
    report: Literal["CTR"] = "CTR"
    threshold: Threshold
    # The rails it covers: cash, so fiat through the bank, never a virtual-asset transfer.
    rails: tuple[Rail, ...] = Field(min_length=1)
    # "movement": each movement on its own; "day": the movements of one day (the
    # jurisdiction's calendar day) on the covered rails add up.
    period: Literal["movement", "day"]


class RollingWindowRule(_Rule):
    governs: Literal["rolling_window"]
    window: Window
    direction: Direction
    total: Threshold | None = None
    count: int | None = Field(default=None, ge=1)
    outcome: Literal["hold", "allow_and_report"]
    report: Literal["STR", "CTR"] = "STR"

    @model_validator(mode="after")
    def _measures_something(self) -> RollingWindowRule:
        if self.total is None and self.count is None:
            raise ValueError("a rolling window needs a total, a count, or both")
        return self


class LinkedTransactionsRule(_Rule):
    """Movements linked over a period may not exceed a total unless the customer is
    identified (Switzerland: CHF 1,000 over 30 days). Measured with the rolling windows;
    crossing it refuses the movement."""

    governs: Literal["linked_transactions"]
    window: Window
    direction: Direction
    total: Threshold
    # The verification levels it binds (the pack's unidentified level); a customer with
    # no verification is bound too.
    levels: tuple[LEVEL, ...] = Field(min_length=1)


class StructuringRule(_Rule):
    governs: Literal["structuring"]
    reference: Threshold  # the threshold being split under
    band_percent: Decimal = Field(gt=0, le=50)  # "just under": within this % below it
    count: int = Field(ge=2)
    window: Window


class RetentionRule(_Rule):
    governs: Literal["record_retention"]
    years: int = Field(ge=1, le=30)
    # Most periods run from the record's date; Korea's from the end of the relationship,
    # which the drop command must respect for customers not yet closed long enough.
    runs_from: Literal["record", "relationship_end"] = "record"


class HoldExpiryRule(_Rule):
    governs: Literal["hold_expiry"]
    hours: int = Field(ge=1, le=24 * 90)


class CallForActionRule(_Rule):
    governs: Literal["call_for_action"]
    countries: tuple[COUNTRY, ...] = Field(min_length=1)


Rule = Annotated[
    TradingRule | AssetClassRule | LicenceRule | MinimumAgeRule | ForeignersRule
    | NonResidentsRule | CorporatesRule | RealNameAccountRule | KycLevelRule | TravelRule
    | SelfHostedRule | CashReportRule | RollingWindowRule | LinkedTransactionsRule | StructuringRule
    | RetentionRule | HoldExpiryRule | CallForActionRule,
    Field(discriminator="governs"),
]  # fmt: skip


class Source(Strict):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")


class PackFile(Strict):
    """One jurisdiction's file. `country = "ZZ"` is the default pack for the rest."""

    country: COUNTRY
    name: str
    currency: CURRENCY
    sources: dict[str, Source]
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _consistent(self) -> PackFile:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids used twice: {', '.join(duplicates)}")
        for rule in self.rules:
            unknown = [c for c in rule.cite if c not in self.sources]
            if unknown:
                raise ValueError(f"rule {rule.id} cites unknown sources: {', '.join(unknown)}")
        return self

    def citation(self, rule: _Rule) -> str:
        return "; ".join(f"[{c}] {self.sources[c].title} <{self.sources[c].url}>" for c in rule.cite)


class AssetEntry(Strict):
    asset: str = Field(pattern=r"^[A-Z0-9]{1,12}$")
    asset_class: AssetClass
    note: str = ""


class AssetRegistryFile(Strict):
    assets: tuple[AssetEntry, ...]
