"""The console's money filter: exact, whatever the scale a column padded it to."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.http.console.render import money


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_money_reads_back_as_the_same_value(value: Decimal) -> None:
    text = money(value)
    assert Decimal(text) == value
    assert "E" not in text and "e" not in text  # never scientific: 5E+4 reads 50000
    assert not ("." in text and text.endswith(("0", ".")))  # no padding zeros, no bare point


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("21000000.0000000000"), "21000000"),
        (Decimal("0.2500"), "0.25"),
        (Decimal("5E+4"), "50000"),
        (Decimal("100"), "100"),
        (Decimal("-0.10"), "-0.1"),
        ("0.0105", "0.0105"),
        (7, "7"),
        (None, "—"),
    ],
)
def test_money_examples(value: Decimal | int | str | None, shown: str) -> None:
    assert money(value) == shown


def test_money_refuses_a_float() -> None:
    with pytest.raises(TypeError):
        money(0.1)  # type: ignore[arg-type]
