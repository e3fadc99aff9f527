"""Bearer tokens and the roles they carry."""

from __future__ import annotations

import enum
import hashlib
import hmac


class Permission(enum.StrEnum):
    READ_DECISIONS = "decisions:read"
    READ_CUSTOMERS = "customers:read"
    MANAGE_CUSTOMERS = "customers:write"
    MANAGE_KEYS = "keys:write"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "auditor": frozenset({Permission.READ_DECISIONS, Permission.READ_CUSTOMERS}),
    "operator": frozenset({Permission.READ_CUSTOMERS, Permission.MANAGE_CUSTOMERS, Permission.MANAGE_KEYS}),
    "compliance_officer": frozenset({Permission.READ_DECISIONS, Permission.READ_CUSTOMERS}),
}


class AdminTokens:
    """Tokens are kept only as SHA-256 digests and compared in constant time."""

    def __init__(self, token_roles: dict[str, str]) -> None:
        self._digests = [(self._digest(t), role) for t, role in token_roles.items()]

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

    @staticmethod
    def allows(role: str, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(role, frozenset())
