"""Ed25519 signatures of the audit trail's own documents: checkpoints of the chain heads
and the records of retention drops, both signed with GATEWAY_AUDIT_CHECKPOINT_KEY.

Ed25519 rather than an HMAC, so whoever checks a document needs only the public key and
cannot forge one. Every signed document names its format inside what is signed, so one
kind of document cannot pass for another.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class CheckpointKeyMissing(Exception):
    pass


def signed_bytes(doc: dict[str, Any]) -> bytes:
    """What a signature covers: the document without its signature, keys sorted."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def public_key(public_b64: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a checkpoint public key is base64 of 32 bytes") from exc


class CheckpointKey:
    def __init__(self, seed_b64: str) -> None:
        if not seed_b64:
            raise CheckpointKeyMissing("GATEWAY_AUDIT_CHECKPOINT_KEY is not set")
        self._private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64, validate=True))
        self.public = self._private.public_key()
        self.public_b64 = base64.b64encode(self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    def sign(self, doc: dict[str, Any]) -> dict[str, Any]:
        signed = {**doc, "public_key": self.public_b64}
        return {**signed, "signature": base64.b64encode(self._private.sign(signed_bytes(signed))).decode()}


def _signature_ok(doc: dict[str, Any], key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(str(doc.get("signature", "")), validate=True), signed_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def signed_as(doc: object, doc_format: str, key: Ed25519PublicKey) -> bool:
    """`doc` is a document of `doc_format` signed with `key`."""
    return isinstance(doc, dict) and doc.get("format") == doc_format and _signature_ok(doc, key)
