"""Admin roles, the permissions each carries, and the bearer tokens that name them: read by
the admin API and by `up`'s local state."""

from __future__ import annotations

import enum
import hashlib
import hmac

from gateway.audit.events import admin_actor


class Permission(enum.StrEnum):
    READ_DECISIONS = "decisions:read"
    READ_CUSTOMERS = "customers:read"
    MANAGE_CUSTOMERS = "customers:write"
    MANAGE_KEYS = "keys:write"
    VERIFY_KYC = "kyc:verify"
    READ_RULES = "rules:read"
    MANAGE_RULES = "rules:write"
    VERIFY_AUDIT = "audit:verify"
    EXPORT_DECISIONS = "decisions:export"
    UNMASK_PERSONAL_DATA = "personal_data:unmask"
    READ_HOLDS = "holds:read"
    REVIEW_HOLDS = "holds:review"
    READ_REPORTS = "reports:read"
    MANAGE_REPORTS = "reports:write"
    EXPORT_REPORTS = "reports:export"
    READ_SANCTIONS = "sanctions:read"
    MANAGE_SANCTIONS = "sanctions:write"
    CHECK_SANCTIONS = "sanctions:check"
    DESCRIBE_API = "api:describe"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "auditor": frozenset({Permission.READ_DECISIONS, Permission.READ_CUSTOMERS, Permission.READ_RULES}),
    "operator": frozenset(
        {
            Permission.READ_CUSTOMERS,
            Permission.MANAGE_CUSTOMERS,
            Permission.MANAGE_KEYS,
            Permission.READ_RULES,
            Permission.MANAGE_RULES,
        }
    ),
    "compliance_officer": frozenset(
        {Permission.READ_DECISIONS, Permission.READ_CUSTOMERS, Permission.READ_RULES, Permission.VERIFY_KYC}
    ),
}


# The audit trail: auditors and officers verify and export; only officers may unmask one
# customer's personal data (and that access is logged).
_AUDIT_PERMISSIONS = {
    "auditor": {Permission.VERIFY_AUDIT, Permission.EXPORT_DECISIONS},
    "compliance_officer": {
        Permission.VERIFY_AUDIT, Permission.EXPORT_DECISIONS, Permission.UNMASK_PERSONAL_DATA,
    },
}  # fmt: skip
for _role, _granted in _AUDIT_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted

# The review queue and report candidates: officers decide, auditors read and export.
_REVIEW_PERMISSIONS = {
    "auditor": {Permission.READ_HOLDS, Permission.READ_REPORTS, Permission.EXPORT_REPORTS},
    "compliance_officer": {
        Permission.READ_HOLDS, Permission.REVIEW_HOLDS, Permission.READ_REPORTS, Permission.MANAGE_REPORTS,
        Permission.EXPORT_REPORTS,
    },
}  # fmt: skip
for _role, _granted in _REVIEW_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted


# Sanctions lists: everyone reads the snapshots; officers and operators load them; officers
# check an address.
_SANCTIONS_PERMISSIONS = {
    "auditor": {Permission.READ_SANCTIONS},
    "operator": {Permission.READ_SANCTIONS, Permission.MANAGE_SANCTIONS},
    "compliance_officer": {
        Permission.READ_SANCTIONS, Permission.MANAGE_SANCTIONS, Permission.CHECK_SANCTIONS,
    },
}  # fmt: skip
for _role, _granted in _SANCTIONS_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted

# The OpenAPI document describes the API, not its data: every role may read it.
for _role in ROLE_PERMISSIONS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.DESCRIBE_API}


class AdminTokens:
    """Tokens are kept only as SHA-256 digests and compared in constant time."""

    def __init__(self, token_roles: dict[str, str]) -> None:
        self._digests = [(self._digest(t), role) for t, role in token_roles.items()]
        # The audit trail's label of each token held (gateway.audit.events.admin_actor),
        # with its role: a console session lives only while its token is still held.
        self._actors = frozenset((admin_actor(role, t), role) for t, role in token_roles.items())

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def role_of(self, token: str) -> str | None:
        digest = self._digest(token)
        found = None
        for known, role in self._digests:  # no early exit: timing says nothing about which
            if hmac.compare_digest(known, digest):
                found = role
        return found

    def still_held(self, actor: str, role: str) -> bool:
        """Whether the token a session was opened with (named by its actor label) is still
        one of ours, with the same role: taking a token away ends its console sessions."""
        return (actor, role) in self._actors

    @staticmethod
    def allows(role: str, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(role, frozenset())
