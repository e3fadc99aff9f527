"""Payment URIs that users paste as an address: BIP-21 (`bitcoin:ADDR?amount=…`, and the
same shape for Litecoin and Bitcoin Cash) and EIP-681 (`ethereum:[pay-]ADDR[@chain]
[/transfer?address=RECIPIENT&uint256=…]`). Only the address part matters for screening;
amounts, labels and chain ids are ignored (and not percent-decoded). A URI that names no
screenable recipient is malformed, never passed on as an opaque string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml.addresses.model import AddressFormat, MalformedAddress

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)
# Which address formats each scheme's recipient may take.
SCHEME_FORMATS: dict[str, frozenset[AddressFormat]] = {
    "bitcoin": frozenset({AddressFormat.BASE58, AddressFormat.BECH32}),
    "litecoin": frozenset({AddressFormat.BASE58, AddressFormat.BECH32}),
    "bitcoincash": frozenset({AddressFormat.CASHADDR, AddressFormat.BASE58}),
    "ethereum": frozenset({AddressFormat.EVM}),
}
_EIP681_TARGET = re.compile(r"^(?:pay-)?([^@/?]*)(?:@([0-9]+))?(?:/([^?]*))?(?:\?(.*))?$", re.DOTALL)
_ERC20_TRANSFER = "transfer"
# Bounds the parameters parsed from one URI (each a few dozen characters at most).
_MAX_URI_PARAMETERS = 16


@dataclass(frozen=True, slots=True)
class PaymentUri:
    scheme: str  # lower case
    recipient: str  # where the money goes
    also: tuple[str, ...] = ()  # other addresses it names (the token contract called)

    @property
    def formats(self) -> frozenset[AddressFormat]:
        return SCHEME_FORMATS[self.scheme]


def parse(text: str) -> PaymentUri | None:
    """The URI's addresses; None when `text` is no URI; `MalformedAddress` when it is a URI
    this module cannot screen (another scheme, no recipient, a contract call other than an
    ERC-20 transfer)."""
    found = _SCHEME.match(text)
    if found is None:
        return None
    scheme, body = found.group(1).lower(), found.group(2)
    if scheme not in SCHEME_FORMATS:
        raise MalformedAddress(text, f"a {scheme}: URI cannot be screened (only {', '.join(SCHEME_FORMATS)})")
    if scheme == "ethereum":
        return _eip681(text, body)
    address = body.partition("?")[0]
    if not address:
        raise MalformedAddress(text, f"the {scheme}: URI names no address")
    return PaymentUri(scheme, address)


def _eip681(text: str, body: str) -> PaymentUri:
    parts = _EIP681_TARGET.match(body)
    if parts is None or not parts.group(1):
        raise MalformedAddress(text, "the ethereum: URI names no address")
    target, function, query = parts.group(1), parts.group(3), parts.group(4) or ""
    if function is None:
        return PaymentUri("ethereum", target)
    if function != _ERC20_TRANSFER:
        raise MalformedAddress(text, f"the ethereum: URI calls {function!r}: no recipient to screen")
    # Not percent-decoded: an address needs no escaping, and an escaped one fails to
    # normalise (malformed) rather than being read some other way than a wallet reads it.
    pairs = query.split("&", _MAX_URI_PARAMETERS)
    if len(pairs) > _MAX_URI_PARAMETERS:
        raise MalformedAddress(text, "the ethereum: URI has too many parameters")
    recipients = [value for name, _, value in (p.partition("=") for p in pairs) if name == "address"]
    if len(recipients) != 1 or not recipients[0]:
        raise MalformedAddress(text, "an ethereum: transfer URI needs exactly one address= recipient")
    return PaymentUri("ethereum", recipients[0], also=(target,))
