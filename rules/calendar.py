"""Which day it is in a jurisdiction: the day its rules take effect and end, documents
expire and customers come of age.

A rule effective on 25 March 2022 in Korea applies from midnight in Seoul, nine hours
before midnight UTC; a document that expired yesterday in Seoul must not count for nine
more hours because the server's clock is in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

# The jurisdictions the rule table covers. The US spans six zones: Eastern is the first
# to reach each day, so a new rule or an expiry bites there first (the conservative side).
_ZONES = {
    "CH": ZoneInfo("Europe/Zurich"),
    "CN": ZoneInfo("Asia/Shanghai"),
    "EE": ZoneInfo("Europe/Tallinn"),
    "HK": ZoneInfo("Asia/Hong_Kong"),
    "JP": ZoneInfo("Asia/Tokyo"),
    "KR": ZoneInfo("Asia/Seoul"),
    "US": ZoneInfo("America/New_York"),
}


# Per country, the day last asked for and the instants it starts and ends: nearly every
# call falls on the same day as the one before, and converting the instant to the zone
# (three times per decided call) is what cost, not comparing it with two others.
_LAST_DAY: dict[str, tuple[datetime, datetime, date]] = {}


def local_date(now: datetime, country: str) -> date:
    """The date at `now` in `country` (UTC's for a country without a zone here)."""
    last = _LAST_DAY.get(country)
    aware = now.tzinfo is not None
    if last is not None and aware and last[0] <= now < last[1]:
        return last[2]
    zone = _ZONES.get(country, UTC)
    day = now.astimezone(zone).date()
    if aware:
        _LAST_DAY[country] = (_day_starts(day, zone), _day_starts(day + timedelta(days=1), zone), day)
    return day


def _day_starts(day: date, zone: tzinfo) -> datetime:
    """The first instant of `day` in `zone`. A midnight skipped by a clock change (fold 0
    takes the offset before it) maps to the instant of the change: still the day's first."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
