from __future__ import annotations

from datetime import date

import pytest

from kyc.age import age_on

CASES = [
    ("day-before-birthday", date(2000, 6, 15), date(2019, 6, 14), 18),
    ("on-birthday", date(2000, 6, 15), date(2019, 6, 15), 19),
    ("day-after-birthday", date(2000, 6, 15), date(2019, 6, 16), 19),
    ("born-today", date(2026, 1, 1), date(2026, 1, 1), 0),
    ("new-years-eve-birth", date(2000, 12, 31), date(2019, 12, 30), 18),
    ("leap-day-birth-28-feb-common-year", date(2004, 2, 29), date(2023, 2, 28), 18),
    ("leap-day-birth-1-mar-common-year", date(2004, 2, 29), date(2023, 3, 1), 19),
    ("leap-day-birth-28-feb-leap-year", date(2004, 2, 29), date(2024, 2, 28), 19),
    ("leap-day-birth-29-feb-leap-year", date(2004, 2, 29), date(2024, 2, 29), 20),
    ("28-feb-birth-in-leap-year", date(2004, 2, 28), date(2023, 2, 28), 19),
    ("1-mar-birth-on-29-feb", date(2004, 3, 1), date(2024, 2, 29), 19),
]


@pytest.mark.parametrize(("born", "on", "age"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_age_on(born: date, on: date, age: int) -> None:
    assert age_on(born, on) == age


def test_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))
