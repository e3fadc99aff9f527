"""Synthetic national id numbers for the tests: valid checksums computed with
python-stdnum (or the HKID algorithm), never a real person's number."""

from __future__ import annotations

# KR RRN: born 1990-01-01, Korean male (7th digit 1); check digit by stdnum.kr.rrn.
KR_RRN = "900101-1234511"
KR_RRN_COMPACT = "9001011234511"
KR_RRN_LEAP = "040229-4123456"  # born 2004-02-29, Korean female (2000s)
KR_ARN = "900101-5234511"  # registered foreigner, born 1990-01-01
JP_MY_NUMBER = "1234 5678 9018"
US_SSN = "111-22-3333"  # SSNs have no checksum: a format-valid, obviously made-up number
US_ITIN = "912-70-1234"
EE_ISIKUKOOD = "39001011237"  # male, born 1990-01-01
EE_ISIKUKOOD_LEAP = "60002291230"  # female, born 2000-02-29
CN_RIC = "110101199001011237"  # Beijing Dongcheng, born 1990-01-01
CH_AHV = "756.1234.5678.97"
HK_HKID = "A123456(3)"
