"""Layers: only the HTTP edge knows aiohttp and the app; the domain knows no I/O at all.

Below the HTTP layer (everything in gateway/ except gateway/http/, the app factory, its
keys and the CLI that serves it) services are plain objects with explicit dependencies:
nothing imports aiohttp, reads `app[...]` / `request.app[...]`, or reaches up into the
edge. policy/ and rules/ are pure like aml/ and kyc/ (tests/*/test_purity.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import IO_PACKAGES, imported_packages

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
# The HTTP layer and the aiohttp server wiring, and the CLI entry.
EDGE = frozenset(
    {
        "gateway/app.py",
        "gateway/appkeys.py",
        "gateway/cli.py",
        "gateway/__main__.py",
    }
)
EDGE_PACKAGES = ("gateway/http/",)
# Modules of the edge a lower module must not reach up into.
EDGE_MODULES = ("gateway.http", "gateway.app", "gateway.appkeys", "gateway.cli")


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _below_http() -> list[Path]:
    return sorted(
        path
        for path in GATEWAY.rglob("*.py")
        if _relative(path) not in EDGE and not _relative(path).startswith(EDGE_PACKAGES)
    )


def _imports(tree: ast.AST) -> set[str]:
    """Every module a source imports, by its full dotted name (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _app_lookups(tree: ast.AST) -> list[int]:
    """Lines that subscript something named `app` (app[...], request.app[...], self.app[...])."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            target = node.value
            named = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if named in {"app", "_app"}:
                lines.append(node.lineno)
    return lines


def layer_problems(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    for name in sorted(_imports(tree)):
        if name == "aiohttp" or name.startswith("aiohttp."):
            problems.append(f"imports {name}")
        elif ".".join(name.split(".")[:2]) in EDGE_MODULES:
            problems.append(f"imports the HTTP layer: {name}")
    problems.extend(f"reads app[...] on line {line}" for line in _app_lookups(tree))
    return problems


@pytest.mark.parametrize("module", _below_http(), ids=_relative)
def test_below_http_no_aiohttp_no_app(module: Path) -> None:
    assert layer_problems(module.read_text(encoding="utf-8")) == []


def test_the_layer_check_sees_each_kind_of_breach() -> None:
    # The check must be able to fail: each way of breaking the layering is caught.
    assert layer_problems("from aiohttp import web\n") == ["imports aiohttp", "imports aiohttp.web"]
    assert layer_problems("import aiohttp.web_request\n") == ["imports aiohttp.web_request"]
    assert layer_problems("from gateway import appkeys as K\n") == ["imports the HTTP layer: gateway.appkeys"]
    assert layer_problems("from gateway.http.proxy import Refusal\n") == [
        "imports the HTTP layer: gateway.http.proxy",
        "imports the HTTP layer: gateway.http.proxy.Refusal",
    ]
    assert layer_problems("x = request.app[K.POOL]\ny = app[K.SETTINGS]\n") == [
        "reads app[...] on line 1",
        "reads app[...] on line 2",
    ]
    assert layer_problems("from gateway.store import db\nrows = apps[0]\n") == []


def test_the_edge_is_where_aiohttp_lives() -> None:
    # The exemption names real files: the check above does not pass by skipping everything.
    below = {_relative(path) for path in _below_http()}
    assert "gateway/decide/service.py" in below and "gateway/decide/money_calls.py" in below
    assert not below & EDGE
    assert "imports aiohttp.web" in layer_problems(
        (GATEWAY / "http" / "proxy.py").read_text(encoding="utf-8")
    )


PURE = sorted((*(ROOT / "policy").glob("*.py"), *(ROOT / "rules").glob("*.py")))


@pytest.mark.parametrize("module", PURE, ids=_relative)
def test_policy_and_rules_do_no_io(module: Path) -> None:
    assert not imported_packages(module) & IO_PACKAGES
