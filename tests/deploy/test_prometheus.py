"""deploy/prometheus: the alert rules load, every alert has promtool unit tests that see it
fire and stay quiet, and every expression selects series a gateway really exports."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from typing import Any

import pytest

from tests.deploy.support import DEPLOY, exported_series, load_yaml, require_tool, series_in

PROMETHEUS = DEPLOY / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
# The compliance signals of issue 12 (not availability): each needs an alert.
COMPLIANCE_SIGNALS = {
    "audit chain broken": "gateway_audit_verify_intact",
    "audit verification stale": "gateway_audit_verify_timestamp_seconds",
    "no sanctions list": "gateway_sanctions_addresses",
    "sanctions list old": "gateway_sanctions_as_of_timestamp_seconds",
    "held call past SLA": "gateway_review_queue_oldest_seconds",
    "fail-closed rate": "gateway_fail_closed_total",
    "report candidates piling up": "gateway_reports_open",
    "report candidate overdue": "gateway_reports_oldest_open_seconds",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args], capture_output=True, text=True, timeout=240, check=False
    )


def _rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules_and_the_config() -> None:
    checked = _promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = _promtool("check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS, "deploy/prometheus/tests/ has no unit tests"
    ran = _promtool("test", "rules", *map(str, UNIT_TESTS))
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """A rule whose tests only ever expect silence would pass with any threshold."""
    seen: dict[str, set[bool]] = defaultdict(set)
    for path in UNIT_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                seen[check["alertname"]].add(bool(check.get("exp_alerts")))
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert {name: {True, False} for name in alerts} == {name: seen[name] for name in alerts}
    assert set(seen) <= alerts, "tests name an alert that alerts.yml does not have"


def test_rules_select_only_series_the_gateway_exports() -> None:
    known = exported_series()
    unknown = {rule["alert"]: series_in(rule["expr"]) - known for rule in _rules()}
    assert {alert: names for alert, names in unknown.items() if names} == {}


def test_each_compliance_signal_has_an_alert() -> None:
    selected = set().union(*(series_in(rule["expr"]) for rule in _rules()))
    missing = {signal for signal, series in COMPLIANCE_SIGNALS.items() if series not in selected}
    assert missing == set()


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'sum by (reason) (rate(gateway_fail_closed_total{job=~"$job"}[5m])) > 0',
            {"gateway_fail_closed_total"},
        ),
        (
            "time() - max(gateway_audit_verify_timestamp_seconds > 0) > 2 * 3600",
            {"gateway_audit_verify_timestamp_seconds"},
        ),
        ("(a == 0) and on (instance) (b > 0)", {"a", "b"}),
        ('histogram_quantile(0.99, sum by (le) (rate(x_bucket{le="+Inf"}[$__rate_interval])))', {"x_bucket"}),
    ],
)
def test_series_are_read_from_promql(expr: str, expected: set[str]) -> None:
    assert series_in(expr) == expected
