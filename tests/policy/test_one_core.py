"""One Finding type, one "could not decide" signal, and a domain core without import cycles."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from aml.facts import AmlFacts
from aml.findings import AmlReason, aml_finding, report_request
from aml.windows import MovementDirection
from gateway.decide import facts_codec
from kyc.stage import KycReason, kyc_finding
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome, ReportKind, Verdict, strictest
from policy.facts import Authentication, AuthStatus, CustomerFacts, CustomerStatus, Facts
from rules.kyc_rules import kyc_rule_set
from rules.loader import load_rule_book
from rules.model import KycLevelRule, RealNameAccountRule

ROOT = Path(__file__).resolve().parents[2]
CORE = ("policy", "kyc", "aml", "rules")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in CORE:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Core modules `path` imports, at any depth of the file (type-checking blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in modules}


def test_the_domain_core_has_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # A package's __init__ importing nothing of its own keeps parent -> child edges acyclic.
    assert cycles == []


def test_no_type_checking_only_imports_in_the_facts() -> None:
    """Fact types are imported for real, so the facts codec resolves them from their
    modules, with no source parsing."""
    for module in ("policy/facts.py", "kyc/facts.py", "aml/facts.py"):
        assert "TYPE_CHECKING" not in (ROOT / module).read_text(encoding="utf-8")
    assert "import ast" not in (ROOT / "gateway/decide/facts_codec.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted(p for package in CORE for p in (ROOT / package).rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))  # fmt: skip
def test_core_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_kyc_and_aml_build_the_one_finding_in_the_stored_shape() -> None:
    kyc = kyc_finding("kr.min_age", KycReason.UNDERAGE, "too young", {"age": 17}, "cite")
    aml = aml_finding("kr.ctr", "allow_and_report", AmlReason.CASH_REPORT_THRESHOLD, "m", {"total": "1"},
                      report=report_request("CTR", Decimal("1"), "KRW"))  # fmt: skip
    assert type(kyc) is Finding and type(aml) is Finding
    # The shape decisions have always stored (findings JSON, admin answers, replay).
    assert kyc.as_json() == {"stage": "kyc", "rule_id": "kr.min_age", "outcome": "deny", "reason": "underage",
                             "message": "too young", "values": {"age": 17}, "citation": "cite"}  # fmt: skip
    assert aml.as_json()["values"] == {"total": "1", "report": "CTR"}
    assert aml.report is not None and (aml.report.kind, aml.report.amount) == (ReportKind.CTR, Decimal("1"))
    verdict = Verdict(strictest([kyc, aml]), (kyc, aml), "v")
    assert verdict.reports() == {ReportKind.CTR: [aml]}


def _undecidable() -> Finding:
    return Finding.cannot_decide("aml", "aml.valuation", "price_unavailable", "no BTC price", asset="BTC")


def test_a_stage_that_cannot_decide_is_the_one_could_not_decide_signal() -> None:
    undecided = _undecidable()
    verdict = Verdict(strictest([undecided]), (undecided,), "v")
    assert verdict.outcome is Outcome.DENY  # recorded as a refusal, never an allow
    problem = verdict.cannot_decide
    assert problem is not None and (problem.reason, problem.message) == ("price_unavailable", "no BTC price")
    assert undecided.as_json()["values"] == {"asset": "BTC"}  # stored as before


def test_a_definite_refusal_is_answered_as_one_even_when_a_price_is_missing() -> None:
    sanctioned = aml_finding("aml.sanctions.ofac_sdn", "deny", AmlReason.SANCTIONED_ADDRESS, "listed",
                             report=report_request("STR"))  # fmt: skip
    findings = (sanctioned, _undecidable())
    assert Verdict(Outcome.DENY, findings, "v").cannot_decide is None
    held = aml_finding("kr.structuring", "hold", AmlReason.STRUCTURING_SUSPECTED, "banded")
    assert Verdict(Outcome.DENY, (held, _undecidable()), "v").cannot_decide is not None


def _facts_with_screening(screening: Finding) -> Facts:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return Facts(
        now=now,
        authentication=Authentication(AuthStatus.OK),
        customer=CustomerFacts("00000000-0000-0000-0000-000000000001", CustomerStatus.ACTIVE, "KR"),
        markets=None,
        aml=AmlFacts(MovementDirection.WITHDRAWAL, (), (), 60, (), "snap", screening),
    )


def test_screening_facts_stored_before_the_one_finding_still_decode() -> None:
    screening = aml_finding("aml.sanctions.ofac_sdn", "deny", AmlReason.SANCTIONED_ADDRESS, "listed",
                            {"snapshot_id": "snap"}, "OFAC", report_request("STR"))  # fmt: skip
    facts = _facts_with_screening(screening)
    action = Action(ActionKind.WITHDRAWAL, "binance.withdraw", asset="BTC", quantity=Decimal("1"))
    assert facts_codec.decode(facts_codec.encode(facts, action)).facts == facts
    # As the AML core's own finding type stored it: no stage, the report kind beside the outcome.
    document = orjson.loads(facts_codec.encode(facts, action))
    document["format"] = "facts/1"
    old = document["facts"]["aml"]["screening"]
    del old["stage"], old["undecidable"]
    old["report"] = "STR"
    decoded = facts_codec.decode(orjson.dumps(document)).facts
    assert decoded.aml is not None and decoded.aml.screening == screening


def test_kyc_decides_on_the_packs_own_rules() -> None:
    """Rules are defined once: the KYC rule set holds the pack's rule objects, with no KYC
    copy of them to drift from the pack's validation."""
    book = load_rule_book()
    rules = kyc_rule_set(book, home="KR", residence="KR", region=None, on=datetime(2026, 3, 1).date())
    pack_rules = {id(rule) for pack in book.packs.values() for rule in pack.rules}
    held = [
        *(r.value for r in rules.level_limits.values()),
        *(r.value for r in rules.real_name_accounts.values()),
    ]
    assert held and all(
        isinstance(r, KycLevelRule | RealNameAccountRule) and id(r) in pack_rules for r in held
    )
