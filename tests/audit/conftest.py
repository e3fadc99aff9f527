"""Fixtures of the audit-trail tests."""

from __future__ import annotations

import pytest

from tests.conftest import Cli, Gateway, gateway_cli


@pytest.fixture
def audit_cli(gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`python -m gateway audit ...` against the test database, as an operator runs it."""
    return gateway_cli(gateway, capsys, monkeypatch, "audit")
