"""The codecs under aml/addresses against their specifications' own vectors: cashaddr
(bitcoincash.org spec/cashaddr.md), XRP X-addresses (XLS-5d), EIP-55, Tron's hex and
base58 forms (Tron protocol documentation), Monero base58 with its Keccak checksum."""

from __future__ import annotations

import pytest

from aml.addresses import base58, cashaddr, evm, xrp

# cashaddr spec, "Checksum": valid strings whatever their payload.
CASHADDR_CHECKSUMS = [
    "prefix:x64nx6hz",
    "p:gpf8m4h7",
    "bitcoincash:qpzry9x8gf2tvdw0s3jn54khce6mua7lcw20ayyn",
    "bchtest:testnetaddress4d6njnut",
    "bchreg:555555555555555555555555555555555555555555555udxmlmrz",
]
# cashaddr spec, "Examples of address translation".
CASHADDR_LEGACY = [
    ("1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu", "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"),
    ("1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR", "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy"),
    ("16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb", "bitcoincash:qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r"),
    ("3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC", "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq"),
    ("3LDsS579y7sruadqu11beEJoTjdFiFCdX4", "bitcoincash:pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e"),
    ("31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw", "bitcoincash:pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37"),
]
# cashaddr spec, "Larger test vectors" (the 20- and 24-byte ones): (address, type, hash).
CASHADDR_PAYLOADS = [
    ("bitcoincash:qr6m7j9njldwwzlg9v7v53unlr4jkmx6eylep8ekg2", 0, "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9"),
    ("bchtest:pr6m7j9njldwwzlg9v7v53unlr4jkmx6eyvwc0uz5t", 1, "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9"),
    ("pref:pr6m7j9njldwwzlg9v7v53unlr4jkmx6ey65nvtks5", 1, "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9"),
    ("prefix:0r6m7j9njldwwzlg9v7v53unlr4jkmx6ey3qnjwsrf", 15, "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9"),
    (
        "bitcoincash:q9adhakpwzztepkpwp5z0dq62m6u5v5xtyj7j3h2ws4mr9g0",
        0,
        "7ADBF6C17084BC86C1706827B41A56F5CA32865925E946EA",
    ),
    (
        "bchtest:p9adhakpwzztepkpwp5z0dq62m6u5v5xtyj7j3h2u94tsynr",
        1,
        "7ADBF6C17084BC86C1706827B41A56F5CA32865925E946EA",
    ),
]


@pytest.mark.parametrize("text", CASHADDR_CHECKSUMS)
def test_cashaddr_checksums(text: str) -> None:
    prefix, _, payload = text.rpartition(":")
    assert cashaddr.checksum_verifies(prefix, payload)
    flipped = payload[:-1] + ("q" if payload[-1] != "q" else "p")
    assert not cashaddr.checksum_verifies(prefix, flipped)


@pytest.mark.parametrize(("legacy", "address"), CASHADDR_LEGACY)
def test_cashaddr_legacy_translation(legacy: str, address: str) -> None:
    decoded = cashaddr.decode(address)
    assert decoded is not None and cashaddr.to_legacy(decoded) == legacy
    assert cashaddr.from_legacy(legacy) == address
    bare = cashaddr.decode(address.split(":")[1].upper())  # prefix optional, upper case legal
    assert bare == decoded


@pytest.mark.parametrize(("address", "type_", "hash_hex"), CASHADDR_PAYLOADS)
def test_cashaddr_payloads(address: str, type_: int, hash_hex: str) -> None:
    decoded = cashaddr.decode(address)
    assert decoded is not None
    assert (decoded.type, decoded.hash.hex().upper()) == (type_, hash_hex)
    assert cashaddr.encode(decoded.prefix, type_, decoded.hash) == address


def test_cashaddr_refuses_mixed_case_and_bad_checksums() -> None:
    address = CASHADDR_LEGACY[0][1]
    assert cashaddr.decode(address[:14] + address[14:].upper()) is None
    assert cashaddr.decode(address[:-1] + "q") is None
    assert cashaddr.decode("bchtest:" + address.split(":")[1]) is None  # the prefix is checksummed


# XLS-5d's reference vectors: (classic, tag or None, main-net X-address, test-net X-address).
X_ADDRESSES = [
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        None,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV5fdx1mHp98tDMoQXb",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQn49b3qD26PK7FcGSKE",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        0,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV8AqEL4xcZj5whKbmc",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQnSy8RHqGHoGJ59spi2",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        1,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV8xvjGQTYPiAx6gwDC",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQnSz1uDimDdPYXzSpyw",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        2,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV8zpDURx7DzBCkrQE7",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQnTryP9tG9TW8GeMBmd",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        32,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtVoYiC9UvKfjKar4LJe",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQnT2oqaCDzMEuCDAj1j",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        276,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtVoKj3MnFGMXEFMnvJV",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQnTMgJJYfAbsiPsc6Zg",
    ),
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        65591,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtVozpjdhPQVdt3ghaWw",
        "TVE26TYGhfLC7tQDno7G8dGtxSkYQn7ryu2W6njw7mT1jmS",
    ),
    (
        "rpZc4mVfWUif9CRoHRKKcmhu1nx2xktxBo",
        None,
        "X7YenJqxv3L66CwhBSfd3N8RzGXxYqPopMGMsCcpho79rex",
        "T77wVQzA8ntj9wvCTNiQpNYLT5hmhRsFyXDoMLqYC4BzQtV",
    ),
    (
        "rpZc4mVfWUif9CRoHRKKcmhu1nx2xktxBo",
        58,
        "X7YenJqxv3L66CwhBSfd3N8RzGXxYqV56ZkTCa9UCzgaao1",
        "T77wVQzA8ntj9wvCTNiQpNYLT5hmhR9kej6uxm4jGcQD7rZ",
    ),
    (
        "rsA2LpzuawewSBQXkiju3YQTMzW13pAAdW",
        23480,
        "X7d3eHCXzwBeWrZec1yT24iZerQjYL8m8zCJ16ACxu1BrBY",
        "T7YChPFWifjCAXLEtg5N74c7fSAYsvSokwcmBPBUZWhxH5P",
    ),
]


@pytest.mark.parametrize(("classic", "tag", "main", "test"), X_ADDRESSES, ids=[x[2] for x in X_ADDRESSES])
def test_x_addresses(classic: str, tag: int | None, main: str, test: str) -> None:
    assert xrp.decode_x_address(main) == xrp.XAddress(classic, tag, test=False)
    assert xrp.decode_x_address(test) == xrp.XAddress(classic, tag, test=True)
    assert xrp.encode_x_address(classic, tag) == main
    assert xrp.encode_x_address(classic, tag, test=True) == test
    assert xrp.decode_x_address(classic) is None
    assert xrp.decode_x_address(main[:-1] + ("a" if main[-1] != "a" else "b")) is None


def test_max_tag_and_classic_checksum() -> None:
    maximum = xrp.decode_x_address("XVLhHMPHU98es4dbozjVtdWzVrDjtV18pX8yuPT7y4xaEHi")
    assert maximum == xrp.XAddress("rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf", 4294967295, test=False)
    assert xrp.account_id("rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf") is not None
    assert xrp.account_id("rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpg") is None
    assert xrp.encode_x_address("rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf", 2**32) is None


# EIP-55's own examples.
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55)
def test_eip55_examples(address: str) -> None:
    assert evm.checksum_problem(address) is None
    if address[2:] not in (address[2:].lower(), address[2:].upper()):
        assert evm.eip55(address.lower()) == address
        first_letter = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
        wrong = address[:first_letter] + address[first_letter].swapcase() + address[first_letter + 1 :]
        assert evm.checksum_problem(wrong) is not None


def test_tron_hex_and_base58() -> None:
    # The worked example of Tron's protocol documentation (address generation, 6.2).
    assert (
        evm.tron_from_hex("415a523b449890854c8fc460ab602df9f31fe4293f")
        == "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"
    )
    assert (
        evm.tron_from_hex("0x415A523B449890854C8FC460AB602DF9F31FE4293F")
        == "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"
    )
    assert evm.tron_account("TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW") == bytes.fromhex(
        "5a523b449890854c8fc460ab602df9f31fe4293f"
    )
    assert evm.tron_from_hex("425a523b449890854c8fc460ab602df9f31fe4293f") is None


# Real Monero addresses: the Monero general fund (standard) and the packaged OFAC list's two.
MONERO = [
    ("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A", 18),
    ("49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL", 18),
    ("884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL", 42),
]


@pytest.mark.parametrize(("address", "network_byte"), MONERO)
def test_monero_base58_and_checksum(address: str, network_byte: int) -> None:
    raw = base58.decode_monero(address)
    assert raw is not None and len(raw) == 69 and raw[0] == network_byte
    assert base58.monero_checksum_ok(raw)
    changed = base58.decode_monero(address[:20] + address[20].swapcase() + address[21:])
    assert changed is None or not base58.monero_checksum_ok(changed)


def test_base58check_refuses_what_the_package_would_forgive() -> None:
    legacy = CASHADDR_LEGACY[0][0]
    assert base58.decode_check(legacy) is not None
    assert base58.decode_check(legacy + " ") is None  # the package strips trailing whitespace
    assert base58.decode_check(legacy + "\n") is None
    assert base58.decode_check("") is None
