"""Which day it is in a jurisdiction: the day its rules take effect and end, documents
expire and customers come of age.

A rule effective on 25 March 2022 in Korea applies from midnight in Seoul, nine hours
before midnight UTC; a document that expired yesterday in Seoul must not count for nine
more hours because the server's clock is in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
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


def local_date(now: datetime, country: str) -> date:
    """The date at `now` in `country` (UTC's for a country without a zone here)."""
    return now.astimezone(_ZONES.get(country, UTC)).date()
