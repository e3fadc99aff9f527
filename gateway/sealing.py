"""Encryption at rest for secrets the gateway must read back (API signing secrets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class SecretBox:
    """AES-256-GCM. The associated data binds a ciphertext to its row, so a secret copied
    into another row does not decrypt there."""

    def __init__(self, key_b64: str) -> None:
        key = base64.b64decode(key_b64, validate=True)
        if len(key) != 32:
            raise ValueError("secret key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, bound_to.encode()).decode()


def new_key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def derive_key(key_b64: str, purpose: str) -> bytes:
    """A key for one purpose (keyed hashes of national ids, of account numbers), derived
    from the installation's secret key, so one secret in settings serves them all."""
    return hmac.new(base64.b64decode(key_b64), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256: finds equal values without storing them (a plain hash of a short
    number is reversed by enumeration)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
