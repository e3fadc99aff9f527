"""aml/ is domain code: no HTTP, no database, no other layer of the service (STYLE 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aml.findings import AmlReason, aml_finding, report_request
from tests.support import IO_PACKAGES, imported_packages

AML = Path(__file__).resolve().parents[2] / "aml"


@pytest.mark.parametrize("module", sorted(AML.glob("*.py")), ids=lambda p: p.name)
def test_no_io_imports(module: Path) -> None:
    assert not imported_packages(module) & IO_PACKAGES


def test_data_keeps_its_source_and_licence_notes() -> None:
    sanctions = AML / "data" / "sanctions"
    assert "MIT" in (sanctions / "SOURCE.md").read_text(encoding="utf-8")
    assert (sanctions / "ofac_0xB10C" / "README.md").is_file()


def test_finding_json_shape() -> None:
    """The stored shape of an AML finding, as decisions have always held it: the stage,
    and the report kind among the values (a typed ReportRequest in memory)."""
    finding = aml_finding(
        "aml.sanctions.ofac_sdn", "deny", AmlReason.SANCTIONED_ADDRESS, "m", {"a": "1"}, "c", report_request("STR")
    )
    assert finding.as_json() == {
        "stage": "aml",
        "rule_id": "aml.sanctions.ofac_sdn",
        "outcome": "deny",
        "reason": "sanctioned_address",
        "message": "m",
        "values": {"a": "1", "report": "STR"},
        "citation": "c",
    }
    assert finding.values == {"a": "1"}  # the request is not written into the values
    bare = aml_finding("r.x", "hold", AmlReason.STRUCTURING_SUSPECTED, "m").as_json()
    assert set(bare) == {"stage", "rule_id", "outcome", "reason", "message"}
