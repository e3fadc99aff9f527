"""What normalising an address gives, and the one error it raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Longer than any address format in use (Monero integrated addresses are 106).
MAX_ADDRESS_LENGTH = 128


class AddressFormat(enum.StrEnum):
    """How an address is compared. The values are stored (sanctions_addresses.format, whose
    CHECK names them), so a new value needs a migration."""

    EVM = "evm"
    HEX = "hex"  # 0x + hex of another length (Aptos, Sui): compared lower-cased
    BECH32 = "bech32"
    CASHADDR = "cashaddr"
    BASE58 = "base58"
    OPAQUE = "opaque"


class MalformedAddress(ValueError):
    """The address cannot be screened; the only exception normalising raises."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address!r}: {reason}")
        self.address = address
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NormalisedAddress:
    format: AddressFormat
    key: str  # the form compared with the list: one per underlying account
    # An XRP destination tag the input carried (an X-address): recorded, never compared,
    # since the tag routes within the account and the account is what is listed.
    tag: int | None = None
    # Other addresses the input names, each screened too: an EIP-681 token transfer names
    # the recipient (the key) and the token contract called.
    also: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.also)
