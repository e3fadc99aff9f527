"""Crypto addresses: codecs per network, validation of list entries against their network,
and the one comparison form per account. Pure: no I/O."""
