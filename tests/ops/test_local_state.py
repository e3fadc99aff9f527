"""`up`'s local state: every role's admin token is its own secret (issue: the auditor token
used to be the operator token plus a suffix)."""

from __future__ import annotations

import stat
from pathlib import Path

from gateway.ops import localstate
from gateway.roles import ROLE_PERMISSIONS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_role_gets_an_independent_token_in_a_private_file(tmp_path: Path) -> None:
    local = tmp_path / "local"
    localstate.prepare(local)
    tokens = localstate.admin_tokens(local)
    assert sorted(tokens.by_token.values()) == sorted(ROLE_PERMISSIONS)
    assert not tokens.replaced_legacy
    values = list(tokens.by_token)
    for a in values:
        assert len(a) >= 40
        for b in values:
            if a != b:
                # Not derivable by adding or removing a suffix, nor sharing a long prefix.
                assert not a.startswith(b[:8]) and b not in a
    assert _mode(local) == 0o700
    for role in ROLE_PERMISSIONS:
        assert _mode(local / f"admin-{role}.token") == 0o600
    assert localstate.admin_tokens(local).by_token == tokens.by_token  # kept across restarts


def test_derivable_tokens_of_an_earlier_version_are_replaced(tmp_path: Path) -> None:
    old = "operator-token-of-an-earlier-version"
    (tmp_path / "admin.token").write_text(old)
    tokens = localstate.admin_tokens(tmp_path)
    assert tokens.replaced_legacy
    assert not (tmp_path / "admin.token").exists()
    for token in tokens.by_token:
        assert old not in token and not token.startswith(old)
    again = localstate.admin_tokens(tmp_path)
    assert not again.replaced_legacy and again.by_token == tokens.by_token


def test_a_secret_restored_with_loose_permissions_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("kept\n")
    path.chmod(0o644)
    assert localstate.persisted_secret(path, lambda: "new") == "kept"
    assert _mode(path) == 0o600
    empty = tmp_path / "empty.key"
    empty.write_text("")
    assert localstate.persisted_secret(empty, lambda: "made") == "made"
    assert _mode(empty) == 0o600
