"""Parameter parsing over raw bytes and the signature/timestamp rules, as tables of cases."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.binance.auth import SigningKey, authenticate
from gateway.binance.params import MalformedParameter, parse_decimal, read_params
from policy.facts import AuthStatus

PARSE_CASES = [
    ("plain", "a=1&b=2", "", {"a": "1", "b": "2"}, (), "a=1&b=2", None),
    ("signature-last", "a=1&signature=ff", "", {"a": "1"}, (), "a=1", "ff"),
    ("signature-in-middle", "a=1&signature=ff&b=2", "", {"a": "1", "b": "2"}, (), "a=1&b=2", "ff"),
    ("percent-decoded", "name=my%20wallet", "", {"name": "my wallet"}, (), "name=my%20wallet", None),
    ("raw-space-kept", "name=my wallet", "", {"name": "my wallet"}, (), "name=my wallet", None),
    ("duplicate-reported", "q=1&q=2", "", {"q": "1"}, ("q",), "q=1&q=2", None),
    ("duplicate-signature", "signature=a&signature=b", "", {}, ("signature",), "", "b"),
    ("empty", "", "", {}, (), "", None),
    ("empty-pieces-signed-as-sent", "a=1&&b=2&", "", {"a": "1", "b": "2"}, (), "a=1&&b=2&", None),
    ("body-only", "", "a=1&signature=ff", {"a": "1"}, (), "a=1", "ff"),
    # Binance's own example: totalParams is the query, then the body, with no "&".
    (
        "binance-split-example",
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        {
            "symbol": "LTCBTC",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1",
            "price": "0.1",
            "recvWindow": "5000",
            "timestamp": "1499827319559",
        },
        (),
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        None,
    ),
    # The body's first pair is its own parameter, not the tail of the query's last value.
    (
        "split-not-glued",
        "a=1&x=",
        "quantity=0.5",
        {"a": "1", "x": "", "quantity": "0.5"},
        (),
        "a=1&x=quantity=0.5",
        None,
    ),
    (
        "duplicate-across-query-and-body",
        "quantity=1",
        "quantity=2",
        {"quantity": "1"},
        ("quantity",),
        "quantity=1quantity=2",
        None,
    ),
    ("signature-in-both", "signature=a", "signature=b", {}, ("signature",), "", "b"),
]


@pytest.mark.parametrize(
    ("query", "body", "values", "duplicates", "payload", "signature"),
    [c[1:] for c in PARSE_CASES],
    ids=[c[0] for c in PARSE_CASES],
)
def test_read_params(
    query: str,
    body: str,
    values: dict[str, str],
    duplicates: tuple[str, ...],
    payload: str,
    signature: str | None,
) -> None:
    params = read_params(query, body)
    assert params.values == values
    assert params.duplicates == duplicates
    assert params.signed_payload == payload
    assert params.signature == signature


@pytest.mark.parametrize(
    ("query", "body"),
    [("a=%00", ""), ("k%00=1", ""), ("", "a=\x00"), ("", "note=line%0Abreak"), ("a=\x7f", "")],
    ids=["encoded-nul", "nul-in-key", "raw-nul-in-body", "encoded-newline", "raw-del"],
)
def test_control_characters_are_refused(query: str, body: str) -> None:
    with pytest.raises(MalformedParameter):
        read_params(query, body)


DECIMALS = [
    ("integer", "5", Decimal("5")),
    ("fraction", "0.00100", Decimal("0.00100")),
    ("negative-parsed-for-the-stage", "-1", Decimal("-1")),
    ("exponent", "1e3", None),
    ("nan", "NaN", None),
    ("infinity", "Infinity", None),
    ("comma", "1,5", None),
    ("too-long", "1" * 30, None),
    ("blank", "", None),
    ("arabic-indic-digits", "0.00\u0661", None),
    ("fullwidth-digits", "\uff11", None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in DECIMALS], ids=[c[0] for c in DECIMALS])
def test_parse_decimal(text: str, expected: Decimal | None) -> None:
    assert parse_decimal(text) == expected


SECRET = "s3cret"
NOW = 1_800_000_000_000


def _sig(payload: str) -> str:
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


AUTH_CASES = [
    ("fresh", {"timestamp": str(NOW - 100)}, True, AuthStatus.OK),
    ("no-signature", {"timestamp": str(NOW)}, None, AuthStatus.MISSING_SIGNATURE),
    ("wrong-signature", {"timestamp": str(NOW)}, False, AuthStatus.BAD_SIGNATURE),
    ("no-timestamp", {}, True, AuthStatus.MISSING_TIMESTAMP),
    ("text-timestamp", {"timestamp": "soon"}, True, AuthStatus.BAD_TIMESTAMP),
    ("superscript-timestamp", {"timestamp": "\u00b2"}, True, AuthStatus.BAD_TIMESTAMP),
    ("arabic-indic-timestamp", {"timestamp": "\u0661" * 13}, True, AuthStatus.BAD_TIMESTAMP),
    ("superscript-window", {"timestamp": str(NOW), "recvWindow": "\u00b2"}, True, AuthStatus.BAD_RECV_WINDOW),
    ("stale", {"timestamp": str(NOW - 6000)}, True, AuthStatus.STALE_TIMESTAMP),
    ("stale-within-window", {"timestamp": str(NOW - 6000), "recvWindow": "10000"}, True, AuthStatus.OK),
    ("future", {"timestamp": str(NOW + 1000)}, True, AuthStatus.FUTURE_TIMESTAMP),
    ("slightly-ahead", {"timestamp": str(NOW + 999)}, True, AuthStatus.OK),
    ("window-too-big", {"timestamp": str(NOW), "recvWindow": "60001"}, True, AuthStatus.BAD_RECV_WINDOW),
    ("window-zero", {"timestamp": str(NOW), "recvWindow": "0"}, True, AuthStatus.BAD_RECV_WINDOW),
]


@pytest.mark.parametrize(
    ("params", "good_sig", "expected"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES]
)
def test_authenticate(params: dict[str, str], good_sig: bool | None, expected: AuthStatus) -> None:
    payload = "&".join(f"{k}={v}" for k, v in params.items())
    signature = None if good_sig is None else (_sig(payload) if good_sig else _sig(payload + "x"))
    key = SigningKey(SECRET)
    result = authenticate(
        params, signature, payload, key, now_ms=NOW, recv_window_max_ms=60_000, clock_skew_ms=1000
    )
    assert result.status is expected


@given(secret=st.text(max_size=200), payload=st.text(max_size=600))
def test_a_signing_key_signs_as_the_standard_hmac(secret: str, payload: str) -> None:
    """Keys shorter, as long as and longer than SHA-256's block, any text (as UTF-8)."""
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    key = SigningKey(secret)
    assert key.hexdigest(payload) == expected
    assert key.hexdigest(payload) == expected  # the key's states are copied, never used up
