"""Self-hosted wallet ownership: signed messages checked against published vectors (Bitcoin
Core's signmessage test, web3.js's sign example) and against keys made here, for every
address form that can sign."""

from __future__ import annotations

import base64
import hashlib

import pytest
from coincurve import PrivateKey

from aml.ownership import (
    Ownership,
    _bitcoin_signed,
    _bitcoin_target,
    _evm_signer,
    _keccak256,
    _varint,
    check_ownership,
    ownership_message,
)

CUSTOMER = "5b0f3c1e-8a4d-4c7e-9f55-3a1f0d2e6b71"
# Private key 1: its addresses are the textbook ones (BIP-173 gives the P2WPKH one).
KEY_ONE = PrivateKey((1).to_bytes(32, "big"))
P2PKH = "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
P2SH_P2WPKH = "3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN"
P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
# web3.js documentation's test key and its address.
EVM_KEY = PrivateKey(bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"))
EVM_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"


def bitcoin_proof(key: PrivateKey, message: str, header_base: int) -> str:
    data = message.encode()
    digest = hashlib.sha256(
        hashlib.sha256(b"\x18Bitcoin Signed Message:\n" + _varint(len(data)) + data).digest()
    ).digest()
    signature = key.sign_recoverable(digest, hasher=None)
    return base64.b64encode(bytes([header_base + signature[64]]) + signature[:64]).decode()


def evm_proof(key: PrivateKey, message: str) -> str:
    data = message.encode()
    digest = _keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
    signature = key.sign_recoverable(digest, hasher=None)
    return "0x" + (signature[:64] + bytes([27 + signature[64]])).hex()


def test_bitcoin_cores_own_vector() -> None:
    # test/functional/rpc_signmessage.py: a testnet P2PKH key signing a fixed message.
    target = _bitcoin_target("mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB")
    assert target is not None
    signature = "INbVnW4e6PeRmsv2Qgu8NuopvrVjkcxob+sX8OcZG0SALhWybUjzMLPdAsXI46YZGb0KQTRii+wWIQzRpG/U+S0="
    assert _bitcoin_signed(signature, b"This is just a test message", target)
    assert not _bitcoin_signed(signature, b"This is just a test message!", target)


def test_web3s_own_vector() -> None:
    signature = (
        "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
        "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    )
    assert _evm_signer(signature, b"Some data") == bytes.fromhex(EVM_ADDRESS[2:])


@pytest.mark.parametrize(
    ("address", "header_base"),
    [
        (P2PKH, 31),  # compressed P2PKH
        (P2SH_P2WPKH, 35),
        (P2WPKH, 39),
        (P2WPKH, 31),  # what Bitcoin Core and Electrum write for segwit keys
        (P2WPKH.upper(), 39),  # bech32 may be all upper case
    ],
)
def test_each_bitcoin_form_verifies_for_its_customer_only(address: str, header_base: int) -> None:
    proof = bitcoin_proof(KEY_ONE, ownership_message(CUSTOMER, address), header_base)
    assert check_ownership(proof, address, CUSTOMER) is Ownership.VERIFIED
    # Made for another customer, or signed by another key: not a proof.
    assert check_ownership(proof, address, "another-customer") is Ownership.INVALID
    other = bitcoin_proof(PrivateKey(), ownership_message(CUSTOMER, address), header_base)
    assert check_ownership(other, address, CUSTOMER) is Ownership.INVALID


def test_a_proof_for_one_address_does_not_prove_another() -> None:
    proof = bitcoin_proof(KEY_ONE, ownership_message(CUSTOMER, P2PKH), 31)
    assert check_ownership(proof, P2WPKH, CUSTOMER) is Ownership.INVALID


def test_an_uncompressed_key_matches_only_its_own_p2pkh_address() -> None:
    # An uncompressed header recovers the uncompressed key, whose P2PKH address differs.
    proof = bitcoin_proof(KEY_ONE, ownership_message(CUSTOMER, P2PKH), 27)
    assert check_ownership(proof, P2PKH, CUSTOMER) is Ownership.INVALID


def test_evm_addresses_verify_in_any_case_with_either_v() -> None:
    for address in (EVM_ADDRESS, EVM_ADDRESS.lower(), "0x" + EVM_ADDRESS[2:].upper()):
        proof = evm_proof(EVM_KEY, ownership_message(CUSTOMER, address))
        assert check_ownership(proof, address, CUSTOMER) is Ownership.VERIFIED
        zero_based = proof[:-2] + f"{int(proof[-2:], 16) - 27:02x}"
        assert check_ownership(zero_based, address, CUSTOMER) is Ownership.VERIFIED
        assert check_ownership(proof, address, "another-customer") is Ownership.INVALID


@pytest.mark.parametrize(
    "proof",
    [
        "not base64 at all!",
        base64.b64encode(b"\x1f" + b"\x00" * 64).decode(),  # r = s = 0
        base64.b64encode(b"\x10" + b"\x01" * 64).decode(),  # header out of range
        base64.b64encode(b"\x1f" + b"\x01" * 10).decode(),  # too short
        "0x" + "ab" * 65,  # an EVM proof for a Bitcoin address
    ],
)
def test_malformed_bitcoin_proofs_are_invalid(proof: str) -> None:
    assert check_ownership(proof, P2WPKH, CUSTOMER) is Ownership.INVALID


def test_tampering_with_a_valid_proof_breaks_it() -> None:
    proof = evm_proof(EVM_KEY, ownership_message(CUSTOMER, EVM_ADDRESS))
    flipped = proof[:10] + ("0" if proof[10] != "0" else "1") + proof[11:]
    assert check_ownership(flipped, EVM_ADDRESS, CUSTOMER) is Ownership.INVALID
    assert check_ownership(proof[:-2] + "05", EVM_ADDRESS, CUSTOMER) is Ownership.INVALID  # bad v


@pytest.mark.parametrize(
    "address",
    [
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",  # taproot (bech32m)
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",  # P2WSH (32 bytes)
        "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh",  # XRP
        "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",  # TRON
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
    ],
)
def test_addresses_no_scheme_can_sign_for_are_unverifiable(address: str) -> None:
    assert check_ownership("0x" + "ab" * 65, address, CUSTOMER) is Ownership.UNVERIFIABLE


def test_no_proof_is_missing() -> None:
    assert check_ownership(None, P2WPKH, CUSTOMER) is Ownership.MISSING


def test_a_plus_turned_into_a_space_by_form_decoding_still_verifies() -> None:
    # ccxt sends withdrawal parameters unencoded, so base64's '+' reaches us as ' '.
    for n in range(100):
        customer = f"customer-{n}"
        proof = bitcoin_proof(KEY_ONE, ownership_message(customer, P2WPKH), 39)
        if "+" in proof:
            break
    else:  # pragma: no cover - 100 signatures without a '+' is vanishingly unlikely
        pytest.fail("no proof with a '+' to test")
    assert check_ownership(proof.replace("+", " "), P2WPKH, customer) is Ownership.VERIFIED
