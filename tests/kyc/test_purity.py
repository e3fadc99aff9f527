"""kyc/ is domain code: no HTTP, no database, no other layer of the service (STYLE 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KYC = Path(__file__).resolve().parents[2] / "kyc"
FORBIDDEN = ("aiohttp", "asyncpg", "gateway", "exchange", "socket", "urllib", "http", "requests")


@pytest.mark.parametrize("module", sorted(KYC.glob("*.py")), ids=lambda p: p.name)
def test_no_io_imports(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & set(FORBIDDEN)
