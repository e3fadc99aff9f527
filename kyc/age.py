"""Age in whole years, as the age-of-majority rules count it."""

from __future__ import annotations

from datetime import date


def age_on(birth_date: date, on: date) -> int:
    """Completed years of life on the day `on`.

    A birthday is reached on its calendar day. Someone born on 29 February reaches each
    new age on 1 March in common years: the Korean Civil Act counts a period of years to
    the end of the day before the corresponding day, or to the end of the month when that
    day does not exist (arts. 158-160), so the year ends with 28 February and the new age
    begins on 1 March. Japan's Act on Age Calculation gives the same day.
    """
    if on < birth_date:
        raise ValueError("the date is before the birth date")
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)
