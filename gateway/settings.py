"""One settings object, read once from the environment (prefix GATEWAY_).

Every field is documented in README.md; a test fails when one is not.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kyc.countries import is_country
from rules.calendar import local_date

ROLES = ("auditor", "operator", "compliance_officer")
# Illustrative rates for the demo and the tests, not market data: an operator sets
# GATEWAY_FX_RATES from its rate source. Stablecoins are valued at par with USD.
DEFAULT_FX_RATES = {
    "USDT/USD": Decimal("1"), "USDC/USD": Decimal("1"), "USD/KRW": Decimal("1400"),
    "USD/JPY": Decimal("150"), "USD/HKD": Decimal("7.8"), "USD/CHF": Decimal("0.8"),
    "USD/EUR": Decimal("0.92"), "USD/CNY": Decimal("7.2"),
}  # fmt: skip


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. under taskset or a cpuset),
    not the machine's count; a CPU quota (a container's limit) is not visible here."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _items(raw: str) -> list[str]:
    """A comma-separated setting's items, trimmed, empty ones dropped."""
    return [p.strip() for p in raw.split(",") if p.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None, description="postgresql:// DSN; unset under `up` starts an embedded server."
    )
    upstream_url: str = Field(default="http://127.0.0.1:9001", description="The exchange's base URL.")
    upstream_token: SecretStr = Field(
        default=SecretStr(""), description="Service credential the exchange trusts."
    )
    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the gateway listens on.")
    secret_key: SecretStr = Field(
        default=SecretStr(""), description="Base64 of 32 bytes; encrypts API secrets at rest."
    )
    admin_tokens: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Comma-separated role:token pairs for the admin API.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line with request and decision ids."
    )
    access_log: bool = Field(
        default=False, description="Log one line per request: method, route without query, status, duration."
    )
    max_body_bytes: int = Field(default=64 * 1024, gt=0, description="Largest accepted request body.")
    recv_window_max_ms: int = Field(default=60_000, gt=0, description="Largest recvWindow accepted.")
    clock_skew_ms: int = Field(
        default=1_000, ge=0, description="How far ahead of our clock a timestamp may be."
    )
    db_timeout_seconds: float = Field(default=2.0, gt=0, description="Timeout of one database call.")
    db_pool_size: int = Field(default=8, gt=0, description="Connections in the pool.")
    upstream_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one call to the exchange."
    )
    upstream_connections: int = Field(
        default=256, gt=0, description="Most calls to the exchange in flight (and connections open)."
    )
    decision_batch_max: int = Field(
        default=500, gt=0, description="Most decision rows written in one commit."
    )
    api_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a replica trusts a cached API key and customer."
    )
    markets_refresh_seconds: float = Field(
        default=60.0, gt=0, description="How often the exchange's market list is refetched."
    )
    markets_max_age_seconds: float = Field(
        default=600.0, gt=0, description="Older market lists are not trusted: calls get 503."
    )
    home_country: str = Field(
        default="KR", pattern=r"^[A-Z]{2}$", description="Jurisdiction the exchange operates from."
    )
    licences_held: Annotated[frozenset[str], NoDecode] = Field(
        default_factory=frozenset,
        description="Comma-separated licences the operator holds, e.g. JP-FSA-CAESP.",
    )
    partner_banks: Annotated[frozenset[str], NoDecode] = Field(
        default_factory=frozenset,
        description="Comma-separated codes of the exchange's partner (real-name account) banks.",
    )
    rules_dir: str | None = Field(
        default=None, description="Folder of rule-pack files; unset uses the packs shipped."
    )
    rules_as_of: date | None = Field(
        default=None, description="Pin the rules in force on this date (YYYY-MM-DD)."
    )
    local_dir: str = Field(
        default=".local", description="Where `up` keeps its embedded database, keys and tokens."
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="Time given to in-flight requests on shutdown."
    )
    workers: int = Field(
        default_factory=available_cpus,
        ge=1,
        description="Gateway processes sharing the port (SO_REUSEPORT); default: the CPUs it may use.",
    )
    # The audit trail (issue 6).
    migration_database_url: SecretStr | None = Field(
        default=None,
        description="DSN of the schema owner, for `migrate` and start-up migration; unset: the database URL.",
    )
    audit_checkpoint_key: SecretStr = Field(
        default=SecretStr(""),
        description="Base64 of a 32-byte Ed25519 seed that signs checkpoints and retention drop records.",
    )
    retention_jurisdictions: Annotated[frozenset[str], NoDecode] = Field(
        default_factory=frozenset,
        description="Comma-separated jurisdictions served, for retention; empty: every known one.",
    )
    audit_partition_months_ahead: int = Field(
        default=3, ge=1, le=24, description="Monthly log partitions kept ready ahead of time."
    )
    audit_maintenance_seconds: float = Field(
        default=3600.0, gt=0, description="How often partitions ahead are checked and created."
    )
    audit_read_concurrency: int = Field(
        default=2, gt=0, description="Exports and verifications running at once, each on its own connection."
    )
    # Scale-out (issue 15): audit reads may go to a streaming read replica.
    audit_database_url: SecretStr | None = Field(
        default=None,
        description="DSN of a read replica for audit reads (decision search, exports, verify, replay, "
        "audit events); unset: the database URL. Nothing is ever written there.",
    )
    audit_replica_lag_check_seconds: float = Field(
        default=15.0, gt=0, description="How often the audit replica's lag behind the primary is measured."
    )
    # Automatic checkpoints, their external anchors and the periodic verification.
    audit_checkpoint_seconds: float = Field(
        default=300.0, gt=0, description="How often one replica verifies the log and signs a checkpoint."
    )
    audit_checkpoint_timeout_seconds: float = Field(
        default=600.0, gt=0, description="Longest one verification, checkpoint and anchoring round may take."
    )
    audit_anchor_dir: str | None = Field(
        default=None, description="Folder each new checkpoint is also written to (a file each)."
    )
    audit_anchor_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", description="URL each new checkpoint is also POSTed to."
    )
    audit_anchor_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one anchor write (file or HTTP POST)."
    )
    # The hold-and-review queue (gateway/review/).
    review_sweep_seconds: float = Field(
        default=30.0, gt=0, description="How often due holds are expired and stalled forwards resumed."
    )
    review_forward_lease_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long an approved call is left to its forwarder before the sweep takes over.",
    )
    review_dual_control_above: Decimal | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Four eyes: a hold worth more than this in the home currency (or not valued "
        "there) needs two different officers' approvals; unset: one approval.",
    )
    prices_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often the exchange's last prices are refetched."
    )
    prices_max_age_seconds: int = Field(
        default=60, gt=0, description="Older prices are not used: deposits and withdrawals get 503."
    )
    fx_rates: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_FX_RATES),
        description="FROM/TO=rate pairs, comma-separated: values crypto in threshold currencies.",
    )
    sanctions_refresh_seconds: float = Field(
        default=10.0, gt=0, description="How often a replica checks which sanctions snapshot is current."
    )
    sanctions_max_delist_ratio: float = Field(
        default=0.1, gt=0, le=1,
        description="Largest share of the addresses in force one sanctions load may delist unconfirmed.",
    )  # fmt: skip
    sanctions_lookback_days: int = Field(
        default=90, gt=0, le=3650,
        description="How far back a new snapshot's additions are screened against deposits and withdrawals.",
    )  # fmt: skip
    sanctions_retro_seconds: float = Field(
        default=5.0, gt=0, description="How often one replica runs a round of retro-screening batches."
    )
    sanctions_retro_batch: int = Field(
        default=500, gt=0, le=10_000, description="Movements one retro-screening batch screens and commits."
    )

    replay_max_decisions: int = Field(
        default=100_000, gt=0, description="Most logged decisions one rule-pack replay decides again."
    )
    # The compliance console (gateway/http/console/): browser sessions exchanged for an admin token.
    console_session_hours: float = Field(
        default=8.0, gt=0, le=24 * 7, description="A console session ends this long after sign-in."
    )
    console_idle_minutes: float = Field(
        default=30.0, gt=0, description="A console session unused this long ends."
    )
    console_trusted_proxies: Annotated[frozenset[str], NoDecode] = Field(
        default_factory=frozenset,
        description="Comma-separated TLS-terminating proxy addresses whose X-Forwarded-Proto is believed.",
    )

    @field_validator("fx_rates", mode="before")
    @classmethod
    def _parse_fx(cls, raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        rates: dict[str, Decimal] = {}
        for pair in _items(raw):
            name, sep, rate = pair.partition("=")
            if not sep or not re.match(r"^[A-Z0-9]{2,12}/[A-Z0-9]{2,12}$", name.strip()):
                raise ValueError(f"expected FROM/TO=rate, got {pair!r}")
            try:
                value = Decimal(rate.strip())
            except ArithmeticError as exc:
                raise ValueError(f"{name}: rate {rate!r} is not a number") from exc
            if not value.is_finite() or value <= 0:
                raise ValueError(f"{name}: rate must be positive")
            rates[name.strip()] = value
        return rates

    @field_validator("admin_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        tokens: dict[str, str] = {}
        for pair in _items(raw):
            role, sep, token = pair.partition(":")
            if not sep or not token:
                raise ValueError("expected comma-separated role:token pairs")
            if token in tokens:
                # Which role would win is not something to leave to parse order.
                raise ValueError("a token is listed twice")
            tokens[token] = role
        return tokens

    @field_validator("home_country")
    @classmethod
    def _iso_country(cls, code: str) -> str:
        if not is_country(code):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return code

    @field_validator("licences_held", "partner_banks", "console_trusted_proxies", mode="before")
    @classmethod
    def _parse_licences(cls, raw: object) -> object:
        if isinstance(raw, str):
            return frozenset(_items(raw))
        return raw

    @field_validator("admin_tokens")
    @classmethod
    def _known_roles(cls, tokens: dict[str, str]) -> dict[str, str]:
        for role in tokens.values():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        return tokens

    @field_validator("secret_key", "audit_checkpoint_key")
    @classmethod
    def _key_is_32_bytes(cls, key: SecretStr) -> SecretStr:
        raw = key.get_secret_value()
        if not raw:
            return key
        try:
            decoded = base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise ValueError("must be base64") from exc
        if len(decoded) != 32:
            raise ValueError("must decode to 32 bytes")
        return key

    def rules_day(self, now: datetime) -> date:
        """The day rules are read for, and ages and expiries judged on: pinned by
        rules_as_of, else the date at `now` in the home jurisdiction."""
        return self.rules_as_of or local_date(now, self.home_country)

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise SystemExit("GATEWAY_DATABASE_URL is not set")
        return self.database_url.get_secret_value()

    def audit_read_database_url(self) -> str:
        """Where audit reads go: the read replica when one is set, else the primary."""
        if self.audit_database_url is not None:
            return self.audit_database_url.get_secret_value()
        return self.require_database_url()

    def require_migration_database_url(self) -> str:
        """The owner's DSN when a separate one is set, else the runtime one (as before)."""
        if self.migration_database_url is not None:
            return self.migration_database_url.get_secret_value()
        return self.require_database_url()

    @field_validator("retention_jurisdictions", mode="before")
    @classmethod
    def _parse_jurisdictions(cls, raw: object) -> object:
        if isinstance(raw, str):
            return frozenset(p.upper() for p in _items(raw))
        return raw

    @field_validator("rules_as_of", "rules_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, raw: object) -> object:
        # A Kubernetes ConfigMap or compose file lists an optional setting with an empty
        # value to show it exists; empty means "not pinned" / "the packs shipped".
        if isinstance(raw, str) and not raw.strip():
            return None
        return raw
