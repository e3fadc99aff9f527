"""CSV cells a spreadsheet would run as formulas are escaped (OWASP "CSV Injection");
every CSV export (decisions, reports) writes its cells through `csv_cell`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.audit.exports import csv_cell
from tests.audit.test_export import FORMULAS


@pytest.mark.parametrize("text", FORMULAS)
def test_a_csv_cell_a_spreadsheet_would_run_is_escaped(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "a=b", "1-2", "", 5, -5, Decimal("-1.5"), True])
def test_other_csv_cells_are_left_as_they_are(value: Any) -> None:
    assert csv_cell(value) == ("" if value == "" else str(value))
