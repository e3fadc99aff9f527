"""Proof that a customer controls a self-hosted address: a message signed with the
address's own key.

EU TFR Art. 14(5) asks for proof of control above EUR 1,000. It does not say how. A
signature is the method a machine can check on the spot. The others (a test transfer of
a small amount, a screenshot) need a person or the chain.

The message names the customer and the address, so a proof made for one cannot be
replayed for another:

    Compliance gateway: customer <customer id> controls <address>

Two schemes, the ones wallets offer as "sign message":

- Bitcoin (`signmessage`, BIP-137). The proof is base64 of 65 bytes: a header byte, then
  r and s. It signs double-SHA256("\\x18Bitcoin Signed Message:\\n" + varint length +
  message). The key it recovers must hash to the address:
  - P2PKH (`1…`);
  - P2SH-wrapped P2WPKH (`3…`);
  - native P2WPKH (`bc1q…`, 20-byte program).
  Taproot, P2WSH and multisig addresses cannot sign this way, so they are unverifiable.
- Ethereum and every EVM chain (`personal_sign`, EIP-191). The proof is 0x plus 65 bytes
  r, s, v. It signs keccak256("\\x19Ethereum Signed Message:\\n" + decimal length +
  message). The key it recovers must hash to the 0x address; ERC-20 tokens use the same
  address.

Which scheme applies is read from the address's form, not from the network named: an
EVM address signs alike on every EVM chain. Pure: no I/O, deterministic, so replay
checks a proof again the same way.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re

from coincurve import PublicKey
from Crypto.Hash import RIPEMD160, keccak

from aml import bech32
from aml.addresses import base58
from aml.addresses.evm import EVM_ADDRESS


class Ownership(enum.StrEnum):
    VERIFIED = "verified"
    MISSING = "missing"  # no proof given
    INVALID = "invalid"  # a proof that does not decode, or was made by another key or message
    UNVERIFIABLE = "unverifiable"  # an address no supported scheme can sign for


def ownership_message(customer_id: str, address: str) -> str:
    """What the customer signs with the address's key."""
    return f"Compliance gateway: customer {customer_id} controls {address}"


def check_ownership(proof: str | None, address: str, customer_id: str) -> Ownership:
    if proof is None:
        return Ownership.MISSING
    message = ownership_message(customer_id, address).encode()
    if EVM_ADDRESS.match(address):
        return _verdict(_evm_signer(proof, message) == bytes.fromhex(address[2:]))
    target = _bitcoin_target(address)
    if target is None:
        return Ownership.UNVERIFIABLE
    return _verdict(_bitcoin_signed(proof, message, target))


def _verdict(ok: bool) -> Ownership:
    return Ownership.VERIFIED if ok else Ownership.INVALID


def _recover(signature: bytes, digest: bytes, recovery_id: int) -> PublicKey | None:
    try:
        return PublicKey.from_signature_and_message(signature + bytes([recovery_id]), digest, hasher=None)
    except (ValueError, TypeError):
        return None


# -- Ethereum ---------------------------------------------------------------------------

_EVM_PROOF = re.compile(r"^0x[0-9a-fA-F]{130}$")


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def _evm_signer(proof: str, message: bytes) -> bytes | None:
    """The address whose key made `proof` over `message`, or None."""
    if not _EVM_PROOF.match(proof):
        return None
    raw = bytes.fromhex(proof[2:])
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        return None
    digest = _keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)
    key = _recover(raw[:64], digest, v)
    return None if key is None else _keccak256(key.format(compressed=False)[1:])[-20:]


# -- Bitcoin ----------------------------------------------------------------------------

_P2PKH_VERSIONS = frozenset({0x00, 0x6F})  # mainnet, testnet
_P2SH_VERSIONS = frozenset({0x05, 0xC4})


class _Form(enum.Enum):
    P2PKH = "p2pkh"
    P2SH_P2WPKH = "p2sh-p2wpkh"
    P2WPKH = "p2wpkh"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hash160(data: bytes) -> bytes:
    return RIPEMD160.new(_sha256(data)).digest()


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def _bitcoin_signed(proof: str, message: bytes, target: tuple[_Form, bytes]) -> bool:
    try:
        # Base64 has no spaces: a space is a '+' that form decoding turned into one (ccxt
        # sends withdrawal parameters unencoded).
        raw = base64.b64decode(proof.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 65 or not 27 <= raw[0] <= 42:
        return False
    # BIP-137's header names the address type (27-30 uncompressed P2PKH, 31-34 compressed
    # P2PKH, 35-38 P2SH-P2WPKH, 39-42 P2WPKH); many wallets write 31-34 for segwit
    # addresses too. The key recovered must hash to the address either way, which is what
    # proves control, so only the compression the header declares is taken from it.
    header = raw[0]
    digest = _sha256(_sha256(b"\x18Bitcoin Signed Message:\n" + _varint(len(message)) + message))
    key = _recover(raw[1:], digest, (header - 27) & 3)
    if key is None:
        return False
    form, program = target
    if form is _Form.P2PKH:
        return _hash160(key.format(compressed=header >= 31)) == program
    compressed = _hash160(key.format(compressed=True))
    if form is _Form.P2WPKH:
        return compressed == program
    return _hash160(b"\x00\x14" + compressed) == program


def _bitcoin_target(address: str) -> tuple[_Form, bytes] | None:
    """The address's form and 20-byte hash, when it is one that can sign a message."""
    if address[:3].lower() in ("bc1", "tb1"):
        program = _segwit_v0_program(address)
        return (_Form.P2WPKH, program) if program is not None and len(program) == 20 else None
    payload = base58.decode_check(address)
    if payload is None or len(payload) != 21:
        return None
    if payload[0] in _P2PKH_VERSIONS:
        return _Form.P2PKH, payload[1:]
    if payload[0] in _P2SH_VERSIONS:
        return _Form.P2SH_P2WPKH, payload[1:]
    return None


def _segwit_v0_program(address: str) -> bytes | None:
    """BIP-173: the witness program of a version-0 (bech32, not bech32m) address."""
    decoded = bech32.decode_segwit(address[:2].lower(), address)
    return decoded.program if decoded is not None and decoded.version == 0 else None
