"""What each admin route is, for the OpenAPI document (gateway/http/admin/openapi.py): its
summary, the permissions it requires (the roles that may call it follow from
ROLE_PERMISSIONS), the models of its query, body and answers, and the errors worth
naming. One declaration per (method, path template) of the router; tests/gateway/
test_openapi.py fails when a route has none, or a declaration has no route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from gateway.http.admin import control_schemas as C
from gateway.http.admin import query_schemas as Q
from gateway.http.admin import schemas as S
from gateway.http.admin.customers import CustomerChange, NewCustomer, NewKey
from gateway.http.admin.deposits import DepositIn
from gateway.http.admin.kyc import NewBankAccount, VerificationChange
from gateway.http.admin.reports import ReportChange
from gateway.http.admin.review import ReviewNote
from gateway.http.admin.rule_packs import ReplayRequest
from gateway.roles import ROLE_PERMISSIONS, Permission
from gateway.sanctions.sources import SnapshotPayload
from kyc.identity import IdentityIn

Model = type[BaseModel]


@dataclass(frozen=True)
class Operation:
    summary: str
    permissions: tuple[Permission, ...]  # all of them are required
    answers: Mapping[int, Model] = field(default_factory=dict)
    query: Model | None = None
    body: Model | None = None
    errors: Mapping[int, str] = field(default_factory=dict)  # statuses worth naming
    export: Model | None = None  # a CSV / JSON Lines stream of these rows

    @property
    def roles(self) -> list[str]:
        return sorted(r for r, granted in ROLE_PERMISSIONS.items() if set(self.permissions) <= granted)


def _op(summary: str, *permissions: Permission, **details: Any) -> Operation:
    return Operation(summary, permissions, **details)


P = Permission
_CUSTOMER = "/admin/v1/customers/{customer_id}"
_NO_CUSTOMER = {404: "no customer with that id"}
_HOLD_DECIDED = {404: "no hold with that id", 409: "the hold is not pending, or has expired"}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/admin/v1/customers"): _op(
        "Create a customer",
        P.MANAGE_CUSTOMERS,
        body=NewCustomer,
        answers={201: S.Customer},
        errors={409: "a customer with that reference exists"},
    ),
    ("GET", "/admin/v1/customers"): _op(
        "List customers by reference",
        P.READ_CUSTOMERS,
        query=Q.CustomerListQuery,
        answers={200: S.CustomerPage},
    ),
    ("GET", _CUSTOMER): _op("One customer", P.READ_CUSTOMERS, query=Q.UnmaskQuery, answers={200: S.Customer}),
    ("PATCH", _CUSTOMER): _op(
        "Change a customer's status, type or jurisdiction",
        P.MANAGE_CUSTOMERS,
        body=CustomerChange,
        answers={200: S.Customer},
    ),
    ("POST", _CUSTOMER + "/api-keys"): _op(
        "Issue an API key (the secret is shown once)",
        P.MANAGE_KEYS,
        body=NewKey,
        answers={201: S.IssuedKey},
        errors=_NO_CUSTOMER,
    ),
    ("GET", _CUSTOMER + "/api-keys"): _op(
        "A customer's API keys, without secrets",
        P.READ_CUSTOMERS,
        query=Q.UnmaskQuery,
        answers={200: S.ApiKeyList},
    ),
    ("DELETE", "/admin/v1/api-keys/{key_id}"): _op(
        "Revoke an API key", P.MANAGE_KEYS, answers={200: S.ApiKey}
    ),
    ("GET", "/admin/v1/decisions"): _op(
        "Search the decision log",
        P.READ_DECISIONS,
        query=Q.DecisionSearchQuery,
        answers={200: S.DecisionPage},
    ),
    ("GET", "/admin/v1/decisions/export"): _op(
        "Export the decision log (streamed)",
        P.EXPORT_DECISIONS,
        query=Q.DecisionExportQuery,
        export=S.DecisionRow,
    ),
    ("GET", "/admin/v1/decisions/{decision_id}"): _op(
        "One decision with what the exchange answered",
        P.READ_DECISIONS,
        query=Q.UnmaskQuery,
        answers={200: S.Decision},
    ),
    ("POST", "/admin/v1/deposits"): _op(
        "Report a deposit the exchange credited (decided by the AML rules)",
        P.MANAGE_CUSTOMERS,
        body=DepositIn,
        answers={201: S.DepositDecision, 200: S.DepositDecision},
        errors={
            404: "no customer with that id",
            409: "the deposit (network, tx_id, output_index) was reported before with other content",
            503: "the deposit could not be decided",
        },
    ),
    ("PUT", _CUSTOMER + "/identity"): _op(
        "Submit a customer's identity (verification goes back to pending)",
        P.MANAGE_CUSTOMERS,
        body=IdentityIn,
        answers={200: S.SubmittedIdentity},
        errors={409: "the identity belongs to another customer"},
    ),
    ("GET", _CUSTOMER + "/identity"): _op(
        "A customer's identity, masked unless unmasked",
        P.READ_CUSTOMERS,
        query=Q.UnmaskQuery,
        answers={200: S.StoredIdentity},
    ),
    ("POST", _CUSTOMER + "/verification"): _op(
        "Verify, reject or expire a customer's identity",
        P.VERIFY_KYC,
        body=VerificationChange,
        answers={200: S.Verification},
        errors={409: "no identity yet, a transition not allowed, or the verification changed meanwhile"},
    ),
    ("GET", _CUSTOMER + "/verification"): _op(
        "A customer's verification and its history", P.READ_CUSTOMERS, answers={200: S.VerificationRecord}
    ),
    ("POST", _CUSTOMER + "/bank-accounts"): _op(
        "Add a real-name bank account",
        P.MANAGE_CUSTOMERS,
        body=NewBankAccount,
        answers={201: S.BankAccount},
        errors={409: "no identity yet, or the account is on record already"},
    ),
    ("GET", _CUSTOMER + "/bank-accounts"): _op(
        "A customer's bank accounts, without numbers or names",
        P.READ_CUSTOMERS,
        answers={200: S.BankAccountList},
    ),
    ("GET", "/admin/v1/rule-packs"): _op(
        "The rule packs in force and every version seen", P.READ_RULES, answers={200: C.RulePacks}
    ),
    ("GET", "/admin/v1/rule-packs/{version}"): _op(
        "One rule pack version",
        P.READ_RULES,
        answers={200: C.RulePackVersion},
        errors={409: "the stored version no longer validates"},
    ),
    ("GET", "/admin/v1/rule-packs/{version}/diff/{other}"): _op(
        "Rules added, removed and changed between two versions",
        P.READ_RULES,
        answers={200: C.RulePackDiff},
        errors={409: "a stored version no longer validates"},
    ),
    ("POST", "/admin/v1/rule-packs/reload"): _op(
        "Read the rule packs from disk again",
        P.MANAGE_RULES,
        answers={200: C.Reload},
        errors={422: "a pack on disk is not valid; the running one stays"},
    ),
    ("POST", "/admin/v1/rule-packs/{version}/replay"): _op(
        "Decide logged decisions again under a version (nothing is written)",
        P.READ_RULES,
        P.READ_DECISIONS,
        body=ReplayRequest,
        answers={200: C.ReplayReport},
        errors={409: "the version no longer validates"},
    ),
    ("GET", "/admin/v1/audit/verify"): _op(
        "Recompute the hash chains",
        P.VERIFY_AUDIT,
        query=Q.VerifyQuery,
        answers={200: C.ChainVerification},
        errors={404: "no checkpoint with that id"},
    ),
    ("GET", "/admin/v1/audit/checkpoints"): _op(
        "Signed checkpoints, newest first",
        P.VERIFY_AUDIT,
        query=Q.LimitQuery,
        answers={200: C.CheckpointList},
    ),
    ("GET", "/admin/v1/audit/events"): _op(
        "Audit events", P.READ_DECISIONS, query=Q.EventQuery, answers={200: C.EventPage}
    ),
    ("GET", "/admin/v1/holds"): _op("Held calls", P.READ_HOLDS, query=Q.HoldQuery, answers={200: S.HoldPage}),
    ("GET", "/admin/v1/holds/{hold_id}"): _op(
        "One hold, its history and its decision", P.READ_HOLDS, query=Q.UnmaskQuery, answers={200: S.Hold}
    ),
    ("POST", "/admin/v1/holds/{hold_id}/approve"): _op(
        "Approve a hold: the call is forwarded once (202 while the exchange has not answered, or "
        "after a first approval under dual control: the hold stays pending for a second, different officer)",
        P.REVIEW_HOLDS,
        body=ReviewNote,
        answers={200: S.Hold, 202: S.Hold},
        errors={
            **_HOLD_DECIDED,
            409: "the hold is not pending, or has expired, or this officer approved it already",
        },
    ),
    ("POST", "/admin/v1/holds/{hold_id}/reject"): _op(
        "Reject a hold for good", P.REVIEW_HOLDS, body=ReviewNote, answers={200: S.Hold}, errors=_HOLD_DECIDED
    ),
    ("GET", "/admin/v1/reports"): _op(
        "Report candidates (CTR, STR)", P.READ_REPORTS, query=Q.ReportSearchQuery, answers={200: S.ReportPage}
    ),
    ("GET", "/admin/v1/reports/export"): _op(
        "Export report candidates (streamed)", P.EXPORT_REPORTS, query=Q.ReportExportQuery, export=S.ReportRow
    ),
    ("GET", "/admin/v1/reports/{report_id}"): _op(
        "One report candidate and its history", P.READ_REPORTS, query=Q.UnmaskQuery, answers={200: S.Report}
    ),
    ("PATCH", "/admin/v1/reports/{report_id}"): _op(
        "File or dismiss a report candidate, once",
        P.MANAGE_REPORTS,
        body=ReportChange,
        answers={200: S.Report},
        errors={409: "the report is no longer open"},
    ),
    ("GET", "/admin/v1/sanctions/snapshots"): _op(
        "Sanctions list snapshots, newest first",
        P.READ_SANCTIONS,
        query=Q.LimitQuery,
        answers={200: C.SnapshotList},
    ),
    ("POST", "/admin/v1/sanctions/snapshots"): _op(
        "Load a sanctions list snapshot (201 when it switches, 200 when unchanged)",
        P.MANAGE_SANCTIONS,
        body=SnapshotPayload,
        answers={201: C.SnapshotLoad, 200: C.SnapshotLoad},
        errors={
            422: "not a snapshot, or invalid entries without accept_partial (each listed)",
            409: "would delist more than GATEWAY_SANCTIONS_MAX_DELIST_RATIO without confirm_delisting",
        },
    ),
    ("GET", "/admin/v1/sanctions/snapshots/{snapshot}/rejected"): _op(
        "The entries a snapshot was loaded without (accept_partial)",
        P.READ_SANCTIONS,
        query=Q.LimitQuery,
        answers={200: C.SnapshotRejections},
        errors={404: "no snapshot with that id"},
    ),
    ("GET", "/admin/v1/sanctions/retro-scans"): _op(
        "Retro-screenings of past movements against new listings, newest first",
        P.READ_SANCTIONS,
        query=Q.LimitQuery,
        answers={200: C.RetroScanList},
    ),
    ("GET", "/admin/v1/sanctions/retro-scans/{scan_id}"): _op(
        "One retro-screening: progress, and its hits with their STR candidates (`limit` hits)",
        P.READ_SANCTIONS,
        query=Q.LimitQuery,
        answers={200: C.RetroScanProgress},
        errors={404: "no scan with that id"},
    ),
    ("GET", "/admin/v1/sanctions/check"): _op(
        "Is an address listed in the snapshot in force",
        P.CHECK_SANCTIONS,
        query=Q.SanctionsCheckQuery,
        answers={200: C.SanctionsCheck},
        errors={503: "no sanctions list is loaded on this replica"},
    ),
    ("GET", "/admin/v1/openapi.json"): _op("This document", P.DESCRIBE_API, answers={200: C.OpenApiDocument}),
}
