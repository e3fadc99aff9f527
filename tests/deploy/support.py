"""Helpers for the tests of deploy/: external tools, metric names in PromQL, YAML files."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.metrics import GatewayMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Series a gateway does not export: Prometheus's own scrape result and the blackbox prober's.
EXTERNAL_SERIES = frozenset({"up", "probe_success"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
}


def require_tool(name: str) -> str:
    """The tool's path. Skipped where it is not installed, except under CI, which installs it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed: CI must install it (see the .ci/run packages)")
        pytest.skip(f"{name} is not installed")
    return path


def exported_series() -> set[str]:
    """Every series name a gateway's /metrics can carry, as PromQL sees it."""
    names: set[str] = set()
    for family in GatewayMetrics().registry.collect():
        suffixes = _SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names | EXTERNAL_SERIES


def series_in(expr: str) -> set[str]:
    """Series names a PromQL expression selects: identifiers left once strings, label
    matchers, ranges and grouping clauses are removed, other than functions and keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    found = re.findall(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\b(?!\s*\()", text)
    return {name for name in found if name.lower() not in _KEYWORDS}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
