"""Is an address one of its network's? Checksums, version bytes, lengths and alphabets per
network, for list entries before they are stored.

Networks are named as the OFAC lists name them (XBT, ETH, USDT, …), with the names
exchanges use as aliases (BTC, TRC20, ERC20, …). USDT and USDC are tokens on several
chains: an entry is validated as the chain its form names (0x: EVM; T: Tron; 1/3: Bitcoin,
USDT's Omni layer).

Decisions per network:
- ZEC shielded addresses: Sapling `zs1…` is checked as bech32 (checksum, 43-byte payload);
  Sprout `zc…` as Base58Check; unified `u1…` by its bech32m checksum only (ZIP-316's
  F4Jumble is not undone; the checksum covers the whole string anyway).
- XMR: Monero's block base58 and Keccak-256 checksum, network byte 18 (standard), 19
  (integrated) or 42 (subaddress), main net only.
- EVM: `0x` and 40 hex digits; a mixed-case spelling must carry a valid EIP-55 checksum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aml import bech32
from aml.addresses import base58, cashaddr, evm, xrp


@dataclass(frozen=True, slots=True)
class Valid:
    chain: str  # the network it was validated as: TRX for a USDT entry on Tron
    kind: str  # which of the network's address types: "p2pkh", "segwit v0", "eip55", ...


@dataclass(frozen=True, slots=True)
class Invalid:
    problem: str


Check = Callable[[str], Valid | Invalid]

# Base58Check version bytes: Bitcoin and forks (chainparams.cpp of each), Zcash's two-byte
# transparent prefixes, Tron's 0x41.
_BITCOIN = {b"\x00": "p2pkh", b"\x05": "p2sh"}
_VERSIONS: Mapping[str, Mapping[bytes, str]] = MappingProxyType(
    {
        "XBT": _BITCOIN,
        "BCH": _BITCOIN,
        "BSV": _BITCOIN,
        "LTC": {b"\x30": "p2pkh", b"\x32": "p2sh", b"\x05": "p2sh (legacy 3…)"},
        "DASH": {b"\x4c": "p2pkh", b"\x10": "p2sh"},
        "BTG": {b"\x26": "p2pkh", b"\x17": "p2sh"},
        "XVG": {b"\x1e": "p2pkh", b"\x21": "p2sh"},
        "ZEC": {b"\x1c\xb8": "transparent p2pkh", b"\x1c\xbd": "transparent p2sh"},
        "TRX": {bytes([evm.TRON_VERSION]): "tron account"},
    }
)
_HASH_LENGTH = 20
_SEGWIT_HRPS = {"XBT": "bc", "LTC": "ltc"}
_ZCASH_SPROUT = b"\x16\x9a"
_ZCASH_SPROUT_LENGTH = 64
_ZCASH_SAPLING_LENGTH = 43
# ZIP-316 puts no fixed bound on a unified address; this one stops runaway input only.
_ZCASH_UNIFIED_MAX = 1000
_MONERO = {18: "monero standard", 19: "monero integrated", 42: "monero subaddress"}
_MONERO_KEYS = 64  # spend and view public keys
_MONERO_PAYMENT_ID = 8  # integrated addresses only
_MONERO_CHECKSUM = 4


def _base58check(network: str, address: str) -> Valid | Invalid:
    payload = base58.decode_check(address)
    if payload is None:
        return Invalid(f"not a {network} address: Base58Check checksum does not verify")
    for version, kind in _VERSIONS[network].items():
        if payload.startswith(version) and len(payload) == len(version) + _HASH_LENGTH:
            return Valid(network, kind)
    return Invalid(f"not a {network} address: version byte {payload[:1].hex()} or length {len(payload)}")


def _segwit(network: str, address: str) -> Valid | Invalid:
    program = bech32.decode_segwit(_SEGWIT_HRPS[network], address)
    if program is None:
        return Invalid(f"not a {network} segwit address (BIP-173/BIP-350: checksum, version, program length)")
    return Valid(network, f"segwit v{program.version}")


def _bitcoin_like(network: str) -> Check:
    hrp = _SEGWIT_HRPS.get(network)

    def check(address: str) -> Valid | Invalid:
        if hrp is not None and address.lower().startswith(hrp + "1"):
            return _segwit(network, address)
        return _base58check(network, address)

    return check


def _bch(address: str) -> Valid | Invalid:
    if address.lower().startswith(("q", "p", cashaddr.MAINNET_PREFIX + ":")):
        decoded = cashaddr.decode(address)
        if decoded is None or cashaddr.to_legacy(decoded) is None:
            return Invalid("not a BCH cashaddr: mixed case, checksum, or not P2PKH/P2SH on main net")
        return Valid("BCH", "cashaddr p2pkh" if decoded.type == cashaddr.P2PKH else "cashaddr p2sh")
    return _base58check("BCH", address)


def _evm(network: str) -> Check:
    def check(address: str) -> Valid | Invalid:
        if not evm.EVM_ADDRESS.match(address):
            return Invalid(f"not a {network} address: 0x and 40 hex digits")
        problem = evm.checksum_problem(address)
        if problem is not None:
            return Invalid(problem)
        body = address[2:]
        return Valid(network, "evm" if body in (body.lower(), body.upper()) else "evm eip55")

    return check


def _tron(address: str) -> Valid | Invalid:
    if evm.tron_from_hex(address) is not None:
        return Valid("TRX", "tron hex")
    return _base58check("TRX", address)


def _xrp(address: str) -> Valid | Invalid:
    if xrp.account_id(address) is not None:
        return Valid("XRP", "classic")
    x_address = xrp.decode_x_address(address)
    if x_address is not None and not x_address.test:
        return Valid("XRP", "x-address")
    return Invalid("not an XRP address: classic r… or X-address (ripple alphabet Base58Check)")


def _monero(address: str) -> Valid | Invalid:
    raw = base58.decode_monero(address)
    if raw is None or not raw or raw[0] not in _MONERO:
        return Invalid("not a Monero main-net address: alphabet, block length or network byte")
    payment_id = _MONERO_PAYMENT_ID if raw[0] == 19 else 0
    if len(raw) != 1 + _MONERO_KEYS + payment_id + _MONERO_CHECKSUM:
        return Invalid(f"not a Monero address: {len(raw)} bytes")
    if not base58.monero_checksum_ok(raw):
        return Invalid("not a Monero address: Keccak checksum does not verify")
    return Valid("XMR", _MONERO[raw[0]])


def _zcash(address: str) -> Valid | Invalid:
    lower = address.lower()
    if lower.startswith("zs1"):
        decoded = bech32.decode(address)
        payload = None if decoded is None else bech32.convert_bits(decoded.data, 5, 8, pad=False)
        if decoded is None or decoded.hrp != "zs" or payload is None or len(payload) != _ZCASH_SAPLING_LENGTH:
            return Invalid("not a Zcash Sapling address: bech32 checksum or length")
        return Valid("ZEC", "sapling")
    if lower.startswith("u1"):
        unified = bech32.decode(address, max_length=_ZCASH_UNIFIED_MAX)
        if unified is None or unified.hrp != "u" or unified.encoding != bech32.BECH32M:
            return Invalid("not a Zcash unified address: bech32m checksum")
        return Valid("ZEC", "unified")
    if address.startswith("zc"):
        sprout = base58.decode_check(address)
        if sprout is None or not sprout.startswith(_ZCASH_SPROUT) or len(sprout) != 2 + _ZCASH_SPROUT_LENGTH:
            return Invalid("not a Zcash Sprout address: Base58Check checksum or length")
        return Valid("ZEC", "sprout")
    return _base58check("ZEC", address)


def _token(network: str) -> Check:
    """USDT/USDC: the chain is read from the form."""
    on_evm, on_bitcoin = _evm(network), _bitcoin_like("XBT")

    def check(address: str) -> Valid | Invalid:
        if address.lower().startswith("0x"):
            return on_evm(address)
        if address.startswith(("T", "41")):
            return _tron(address)
        return on_bitcoin(address)

    return check


_CHECKS: dict[str, Check] = {
    "XBT": _bitcoin_like("XBT"),
    "LTC": _bitcoin_like("LTC"),
    "BSV": _bitcoin_like("BSV"),
    "BTG": _bitcoin_like("BTG"),
    "DASH": _bitcoin_like("DASH"),
    "XVG": _bitcoin_like("XVG"),
    "BCH": _bch,
    "TRX": _tron,
    "XRP": _xrp,
    "XMR": _monero,
    "ZEC": _zcash,
    "USDT": _token("USDT"),
    "USDC": _token("USDC"),
    **{name: _evm(name) for name in ("ETH", "ETC", "BSC", "ARB")},
}
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "BTC": "XBT",
        "TRC20": "TRX",
        "ERC20": "ETH",
        "BEP20": "BSC",
        "ARBITRUM": "ARB",
    }
)
KNOWN_NETWORKS = frozenset(_CHECKS) | frozenset(ALIASES)
_TOKENS = frozenset({"USDT", "USDC"})


def validate(address: str, network: str) -> Valid | Invalid | None:
    """The address checked against its network; None when the network is not known here."""
    name = network.upper()
    check = _CHECKS.get(ALIASES.get(name, name))
    return None if check is None else check(address)


def identify(address: str) -> Valid | None:
    """The first network (of those known here, tokens aside) the address is valid on: for an
    entry published under the wrong one (OFAC lists a Tron address as XBT)."""
    for name, check in _CHECKS.items():
        verdict = check(address) if name not in _TOKENS else None
        if isinstance(verdict, Valid):
            return verdict
    return None


def canonical_network(network: str) -> str | None:
    name = network.upper()
    name = ALIASES.get(name, name)
    return name if name in _CHECKS else None
