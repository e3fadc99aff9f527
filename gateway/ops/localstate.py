"""What `python -m gateway up` keeps in its local state directory (`GATEWAY_LOCAL_DIR`):
the encryption key, the checkpoint key and one admin token per role.

Every secret is its own random value in its own file, created with mode 0600 (never
written first and restricted after), so holding one token tells nothing about another.
Versions before this one derived the auditor and officer tokens from the operator's
(`admin.token` plus a suffix); such a directory has its tokens replaced at start, and the
caller says so.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.roles import ROLE_PERMISSIONS

LEGACY_TOKEN_FILE = "admin.token"  # the operator token the others were derived from


@dataclass(frozen=True)
class AdminTokens:
    by_token: dict[str, str]  # token -> role, as GATEWAY_ADMIN_TOKENS is read
    replaced_legacy: bool  # derivable tokens of an earlier version were thrown away


def persisted_secret(path: Path, make: Callable[[], str]) -> str:
    """The value kept in `path`, made and stored (mode 0600) on first use."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a copy restored with looser permissions
        return value
    value = make()
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def admin_tokens(local: Path) -> AdminTokens:
    """One independent random token per role, each in `admin-<role>.token`."""
    legacy = local / LEGACY_TOKEN_FILE
    replaced = legacy.exists()
    if replaced:
        # The old per-role files never existed, but tokens derived from the old operator
        # token may be in people's hands: none of them may keep working.
        for role in ROLE_PERMISSIONS:
            (local / _token_file(role)).unlink(missing_ok=True)
        legacy.unlink()
    by_token = {persisted_secret(local / _token_file(role), _new_token): role for role in ROLE_PERMISSIONS}
    return AdminTokens(by_token=by_token, replaced_legacy=replaced)


def prepare(local: Path) -> None:
    local.mkdir(parents=True, exist_ok=True)
    local.chmod(0o700)


def _token_file(role: str) -> str:
    return f"admin-{role}.token"


def _new_token() -> str:
    return secrets.token_urlsafe(32)
