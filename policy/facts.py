"""Facts gathered by the gateway before the pipeline runs.

Stages read facts; they never fetch them. Later stages (KYC, country rules, AML) add
their own fields here, filled by the gateway's fact gatherers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from aml.facts import AmlFacts
from kyc.facts import CustomerType, KycFacts


class AuthStatus(enum.StrEnum):
    OK = "ok"
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    BAD_RECV_WINDOW = "bad_recv_window"


@dataclass(frozen=True, slots=True)
class Authentication:
    status: AuthStatus
    detail: str = ""
    values: tuple[tuple[str, int], ...] = ()  # e.g. (("timestamp", ...), ("server_time", ...))


class CustomerStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: str
    status: CustomerStatus
    # Where the customer lives and which passport they hold select the country rules;
    # None where the record does not say (money-moving calls are then refused).
    residence_country: str | None = None
    residence_region: str | None = None
    nationality: str | None = None
    customer_type: CustomerType = CustomerType.INDIVIDUAL

    @property
    def jurisdiction(self) -> str | None:
        """Where the customer's rules come from, as the audit filter names it: KR, US-NY."""
        if self.residence_country is None:
            return None
        region = self.residence_region
        return f"{self.residence_country}-{region}" if region else self.residence_country


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base_asset: str
    quote_asset: str
    trading: bool


@dataclass(frozen=True, slots=True)
class MarketCatalog:
    """The exchange's own list of symbols and assets, as last fetched from it."""

    markets: dict[str, Market]
    assets: frozenset[str]
    fetched_at: datetime

    def market(self, symbol: str) -> Market | None:
        return self.markets.get(symbol)


@dataclass(frozen=True, slots=True)
class Facts:
    now: datetime
    authentication: Authentication
    customer: CustomerFacts | None
    markets: MarketCatalog | None
    # The customer's KYC standing; None when no identity is on record.
    kyc: KycFacts | None = None
    # Prices, recent movements and the sanctions screening for a deposit or withdrawal
    # gathered under the customer's lock; None for other calls.
    aml: AmlFacts | None = None
