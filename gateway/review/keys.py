"""The idempotency key a held withdrawal is forwarded with, and the namespace it lives in.

Binance's withdrawOrderId is the client's, or ours, derived from the held id. Ours lives in
a namespace no client can claim: a reserved prefix the edge refuses in clients' ids
(gateway/binance/routes.py), and a keyed hash of the held id, so even the hold's id (which
the client is shown) does not predict it. 35 characters, inside Binance's documented
pattern of at most 36.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from typing import Final

from gateway.sealing import derive_key

IDEMPOTENCY_PARAM: Final = "withdrawOrderId"
RESERVED_KEY_PREFIX: Final = "gw:"
_KEY_HEX_CHARS: Final = 32  # 128 bits of the HMAC
KEY_PURPOSE: Final = "held-call-idempotency-key"
# Holds parked before the keyed namespace carry "g" + the held id's hex: still reserved,
# so a client cannot pre-empt one of them either.
_LEGACY_KEY = re.compile(r"^g[0-9a-f]{32}$", re.IGNORECASE)


def key_secret(secret_key_b64: str) -> bytes:
    """The key the gateway's idempotency keys are derived with (from GATEWAY_SECRET_KEY)."""
    return derive_key(secret_key_b64, KEY_PURPOSE)


def derived_key(secret: bytes, held_id: uuid.UUID) -> str:
    return RESERVED_KEY_PREFIX + hmac.new(secret, held_id.bytes, hashlib.sha256).hexdigest()[:_KEY_HEX_CHARS]


def reserved_key(client_id: str) -> bool:
    """An id in the gateway's own namespace, which a client may not send."""
    return client_id.lower().startswith(RESERVED_KEY_PREFIX) or bool(_LEGACY_KEY.match(client_id))
