"""A keyed hash of a national id, to find one identity registered under two customers.

The number itself is stored encrypted (reversible, for the compliance team); the hash is
what the unique index and the duplicate check use, so lookups never decrypt. It is keyed
(HMAC) because a plain hash of a 9- or 13-digit number is reversed by enumeration.
"""

from __future__ import annotations

import hashlib
import hmac

from kyc.national_id import NationalId

# A key shorter than SHA-256's output weakens the HMAC; refuse it rather than warn.
MIN_KEY_BYTES = 32


def national_id_hash(key: bytes, national_id: NationalId) -> str:
    """HMAC-SHA256(key, "country:type:compact_number") as 64 hex characters.

    `national_id` comes from `validate_national_id`, so every formatting of one number
    ("900101-1234568", "9001011234568", full-width digits) has the same compact form and
    the same hash.
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the identity hash key must be at least {MIN_KEY_BYTES} bytes")
    message = f"{national_id.country}:{national_id.type}:{national_id.number}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
