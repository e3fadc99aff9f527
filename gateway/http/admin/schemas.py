"""What the admin API answers, as pydantic models: customers, decisions, KYC, holds, reports.

The handlers build their answers as dicts; these models describe them for the OpenAPI
document (gateway/http/admin/openapi.py), and tests/gateway/test_openapi.py validates real
answers against the schemas generated from them, so a field added to an answer without
being added here fails that test (every answer model forbids unknown fields).

Identifiers a role may see masked (`0192…a3f1`, gateway/audit/masking.py) are plain
strings here: a UUID format would be false for a masked one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.admin.decisions import REVIEW_STATUSES
from gateway.http.admin.errors import ERROR_CODES
from gateway.http.admin.reports import REPORT_STATUSES
from gateway.http.admin.review import HOLD_STATES
from gateway.review.store import REPORT_KINDS
from policy.action import ActionKind
from policy.decision import Outcome


def one_of(values: Iterable[str], description: str | None = None) -> Any:
    """A string limited to the values the handler checks against (one source for both)."""
    return Field(json_schema_extra={"enum": list(values)}, description=description)


MASKED = "masked for a role that sees personal data masked"
Maskable = Annotated[str, Field(description=f"an identifier; {MASKED}")]
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="a decimal as text")]
OutcomeName = Annotated[str, one_of(o.value for o in Outcome)]


class Answer(BaseModel):
    """An answer body. Unknown fields are refused, so the schema is the whole answer."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# Errors ---------------------------------------------------------------------------------


class ErrorDetail(Answer):
    code: Annotated[str, one_of(sorted(ERROR_CODES))]
    message: str
    details: Any = Field(default=None, description="e.g. [{field, problem}] for validation_failed")


class AdminErrorBody(Answer):
    """Every admin error (gateway/http/admin/errors.py)."""

    error: ErrorDetail


# Customers and keys ---------------------------------------------------------------------


class Customer(Answer):
    id: Maskable
    reference: str = Field(description=MASKED)
    status: Annotated[str, one_of(("active", "suspended", "closed"))]
    customer_type: Annotated[str, one_of(("individual", "corporate"))]
    residence_country: str | None
    residence_region: str | None
    nationality: str | None
    created_at: datetime
    updated_at: datetime


class CustomerPage(Answer):
    customers: list[Customer]
    next: str | None = Field(description="`after` for the next page; sealed for a masked viewer")


class ApiKey(Answer):
    id: uuid.UUID
    customer_id: Maskable
    api_key: str = Field(description=MASKED)
    label: str
    status: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyList(Answer):
    api_keys: list[ApiKey]


class IssuedKey(Answer):
    id: uuid.UUID
    customer_id: uuid.UUID
    api_key: str
    secret: str = Field(description="shown once; stored encrypted")
    label: str
    created_at: datetime


# Decisions ------------------------------------------------------------------------------


class Finding(Answer):
    stage: str
    rule_id: str
    outcome: OutcomeName
    reason: str
    message: str
    values: dict[str, Any] | None = None
    citation: str | None = None


class DecisionRow(Answer):
    """A decision as searched and exported (the CSV columns, in this order)."""

    id: uuid.UUID
    decided_at: datetime
    request_id: Maskable
    customer_id: Maskable | None
    api_key_id: Maskable | None
    dialect: str
    operation: str
    action_kind: Annotated[str, one_of(k.value for k in ActionKind)]
    http_method: str
    path: str
    symbol: str | None
    base_asset: str | None
    quote_asset: str | None
    asset: str | None
    side: str | None
    order_type: str | None
    quantity: DecimalText | None
    price: DecimalText | None
    notional: DecimalText | None
    notional_asset: str | None
    address: str | None = Field(description=MASKED)
    network: str | None
    client_order_id: str | None = Field(description=MASKED)
    country: str | None
    outcome: OutcomeName
    review_status: Annotated[str, one_of(REVIEW_STATUSES)] | None
    reasons: list[str]
    rule_ids: list[str]
    findings: list[Finding]
    rule_pack_version: str
    decision_micros: int
    chain_id: uuid.UUID | None
    seq: int | None
    prev_hash: str | None
    entry_hash: str | None


class UpstreamResult(Answer):
    recorded_at: datetime
    http_status: int | None
    error: str | None
    upstream_micros: int


class Decision(DecisionRow):
    upstream: list[UpstreamResult] = Field(description="what the exchange answered")


class DecisionPage(Answer):
    decisions: list[DecisionRow]
    next_cursor: str | None


class DepositDecision(Answer):
    decision_id: uuid.UUID
    already_reported: bool
    # A repeat (already_reported) answers the first decision's outcome and reasons.
    outcome: OutcomeName | None = None
    reasons: list[str] | None = None
    findings: list[Finding] | None = Field(default=None, description="absent when already reported")


# KYC ------------------------------------------------------------------------------------


class MaskedNationalId(Answer):
    country: str
    type: str
    number: str


class MaskedDocument(Answer):
    type: str
    issuing_country: str
    number: str
    expiry_date: date | None


class MaskedContact(Answer):
    email: str | None
    phone: str | None


class MaskedIdentity(Answer):
    """kyc.identity.masked: initials, birth year, last digits."""

    customer_type: str
    legal_name: str
    native_name: str | None
    birth_year: int | None
    nationality: str
    residence_country: str
    residence_region: str | None
    contact: MaskedContact
    national_id: MaskedNationalId | None
    identity_document: MaskedDocument | None
    pep: bool
    risk_rating: str


class SubmittedIdentity(Answer):
    version: int
    verification: Annotated[str, one_of(("pending",))]
    identity: MaskedIdentity


class StoredIdentity(Answer):
    customer_id: uuid.UUID
    version: int
    updated_at: datetime
    masked: bool
    identity: MaskedIdentity | dict[str, Any] = Field(
        description="masked, or the identity as submitted for an officer who unmasked this customer"
    )


class Verification(Answer):
    status: str
    level: str | None
    verified_by: str | None
    verified_at: datetime | None
    valid_until: date | None
    note: str | None


class VerificationStep(Answer):
    at: datetime
    by: str
    from_status: str | None
    to_status: str
    level: str | None
    note: str | None


class VerificationRecord(Verification):
    history: list[VerificationStep]


class BankAccount(Answer):
    id: uuid.UUID
    currency: str
    bank_code: str
    partner_bank: bool
    holder_confirmed: bool
    holder_name_matches: bool
    status: Annotated[str, one_of(("active", "closed"))]
    created_at: datetime


class BankAccountList(Answer):
    bank_accounts: list[BankAccount]


# Holds and reports ----------------------------------------------------------------------


class HoldApproval(Answer):
    actor: str
    at: datetime
    note: str


class HoldRow(Answer):
    id: uuid.UUID
    customer_id: Maskable
    api_key_id: Maskable | None
    action_kind: str
    asset: str | None
    amount: DecimalText | None
    address: str | None = Field(description=MASKED)
    network: str | None
    http_method: str
    path: str
    client_order_id: str | None = Field(description=MASKED)
    idempotency_key: str = Field(description=MASKED)
    state: Annotated[str, one_of(HOLD_STATES)]
    held_at: datetime
    expires_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    forward_attempts: int
    last_error: str | None
    forwarded_at: datetime | None
    upstream_status: int | None
    upstream_body: str | None
    exchange_withdraw_id: str | None
    expired_at: datetime | None
    updated_at: datetime
    findings: list[Finding]
    home_currency: str | None = Field(description="the home rule pack's currency")
    home_value: DecimalText | None = Field(
        description="the call's value in home_currency, from its valuation; null when nothing valued it there"
    )
    approvals_required: int = Field(
        ge=1, le=2, description="2 under dual control (GATEWAY_REVIEW_DUAL_CONTROL_ABOVE), fixed when held"
    )
    approvals: list[HoldApproval] = Field(description="the officers' approvals so far, first first")


class HoldStep(Answer):
    seq: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    details: dict[str, Any]


class Hold(HoldRow):
    history: list[HoldStep]
    decision: Decision | None


class HoldPage(Answer):
    holds: list[HoldRow]
    next_cursor: str | None


class ReportRow(Answer):
    id: uuid.UUID
    kind: Annotated[str, one_of(REPORT_KINDS)]
    customer_id: Maskable
    status: Annotated[str, one_of(REPORT_STATUSES)]
    amount: DecimalText | None
    currency: str | None
    opened_at: datetime
    decision_ids: list[uuid.UUID]
    rule_ids: list[str]
    reviewed_by: str | None
    reviewed_at: datetime | None
    note: str | None
    updated_at: datetime
    details: dict[str, Any]


class ReportStep(Answer):
    seq: int
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class Report(ReportRow):
    history: list[ReportStep]


class ReportPage(Answer):
    reports: list[ReportRow]
    next_cursor: str | None
