"""kyc/ is domain code: no HTTP, no database, no other layer of the service (STYLE 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import IO_PACKAGES, imported_packages

KYC = Path(__file__).resolve().parents[2] / "kyc"


@pytest.mark.parametrize("module", sorted(KYC.glob("*.py")), ids=lambda p: p.name)
def test_no_io_imports(module: Path) -> None:
    assert not imported_packages(module) & IO_PACKAGES
