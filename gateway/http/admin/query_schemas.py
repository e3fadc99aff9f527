"""The query parameters each admin read endpoint takes, as pydantic models: the OpenAPI
document (gateway/http/admin/openapi.py) lists them from these. The handlers check the same
names and values (gateway/http/admin/queries.py); tests/gateway/test_openapi.py sends every
parameter declared here and fails when a handler refuses one as unknown, or accepts one
not declared."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.http.admin.decisions import REVIEW_STATUSES
from gateway.http.admin.reports import REPORT_STATUSES
from gateway.http.admin.requests import MAX_PAGE
from gateway.http.admin.review import HOLD_STATES
from gateway.http.admin.schemas import DecimalText, one_of
from gateway.review.store import REPORT_KINDS
from policy.action import ActionKind
from policy.decision import Outcome


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnmaskQuery(_Query):
    unmask: uuid.UUID | None = Field(
        default=None, description="compliance_officer only: this customer's records in clear (logged)"
    )
    justification: str | None = Field(
        default=None, min_length=10, max_length=500, description="why; with unmask"
    )


class LimitQuery(_Query):
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


class PageQuery(LimitQuery):
    cursor: str | None = Field(default=None, description="the previous page's next_cursor")


class TimeRangeQuery(_Query):
    since: AwareDatetime | None = Field(default=None, description="ISO 8601 with an offset, inclusive")
    until: AwareDatetime | None = Field(default=None, description="ISO 8601 with an offset, exclusive")


class DecisionFilterQuery(UnmaskQuery, TimeRangeQuery):
    customer_id: uuid.UUID | None = None
    outcome: Annotated[str, one_of(o.value for o in Outcome)] | None = None
    action_kind: Annotated[str, one_of(k.value for k in ActionKind)] | None = None
    reason: str | None = Field(default=None, pattern=r"^[a-z0-9_.:-]{1,200}$")
    rule_id: str | None = Field(default=None, pattern=r"^[a-z0-9_.:-]{1,200}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    asset: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,20}$", description="moved, or either side")
    notional_min: DecimalText | None = None
    notional_max: DecimalText | None = None
    review_status: Annotated[str, one_of(REVIEW_STATUSES)] | None = None
    sort: Annotated[str, one_of(("desc", "asc"))] = "desc"


class DecisionSearchQuery(DecisionFilterQuery, PageQuery):
    pass


class ExportFormat(_Query):
    format: Annotated[str, one_of(("csv", "jsonl"))]


class DecisionExportQuery(DecisionFilterQuery, ExportFormat):
    pass


class CustomerListQuery(UnmaskQuery, LimitQuery):
    after: str | None = Field(default=None, description="the previous page's next")


class VerifyQuery(TimeRangeQuery):
    checkpoint_id: uuid.UUID | None = None


class EventQuery(UnmaskQuery, TimeRangeQuery, PageQuery):
    kind: str | None = Field(default=None, pattern=r"^[a-z_]+(\.[a-z_]+)+$")
    subject_type: str | None = Field(default=None, pattern=r"^[a-z_]{1,40}$")
    subject_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")


class HoldQuery(UnmaskQuery, PageQuery):
    state: Annotated[str, one_of(HOLD_STATES)] | None = None
    customer_id: uuid.UUID | None = None


class ReportFilterQuery(UnmaskQuery, TimeRangeQuery):
    kind: Annotated[str, one_of(REPORT_KINDS)] | None = None
    status: Annotated[str, one_of(REPORT_STATUSES)] | None = None
    customer_id: uuid.UUID | None = None


class ReportSearchQuery(ReportFilterQuery, PageQuery):
    pass


class ReportExportQuery(ReportFilterQuery, ExportFormat):
    pass


class SanctionsCheckQuery(_Query):
    address: str = Field(min_length=1)
    network: str | None = None
