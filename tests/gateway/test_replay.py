"""Replay: logged decisions decided again under another rule-pack version, through the
real gateway (ccxt traffic recorded first), without touching the log."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter

from gateway.app import create_app
from gateway.audit.canonical import canonical_bytes
from gateway.audit.streams import DECISIONS
from gateway.decide import facts_codec
from gateway.decide import replay as replay_module
from gateway.decide.facts_codec import FactsUnreadable, PersonalSeal
from gateway.sealing import SecretBox, new_key_b64
from gateway.settings import Settings
from gateway.store.records import DecisionRow, new_decision_id
from kyc.facts import BankAccountFacts, KycFacts
from kyc.verification import Effectiveness, Missing
from policy.action import Action, ActionKind, ParseProblem, Side
from policy.decision import Finding, Outcome, Verdict
from policy.facts import (
    Authentication,
    AuthStatus,
    CustomerFacts,
    CustomerStatus,
    CustomerType,
    Facts,
    Market,
    MarketCatalog,
)
from tests.conftest import Exchange, gateway_settings, runtime_dsn
from tests.rules.synthetic import AX, BB, write_book
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    SECRET_KEY,
    Customer,
    admin,
    ccxt_client,
    new_customer,
    serving,
    travel_rule_params,
)

BAN_LIFTED = AX.replace("allowed = false", "allowed = true", 1)
PRIVACY_BARRED = (
    BB
    + """
[[rules]]
id = "bb.privacy"
governs = "asset_class"
asset_class = "privacy_coin"
allowed = false
effective_from = 2020-01-01
applies_as = ["residence"]
cite = ["B1"]
"""
)
ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


# --- the codec -------------------------------------------------------------------------


def _facts(**changes: Any) -> Facts:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    catalog = MarketCatalog(
        {s: Market(s, s[:3], s[3:], True) for s in ("BTCUSDT", "ETHUSDT", "XMRUSDT")},
        frozenset({"BTC", "ETH", "XMR", "USDT"}),
        now - timedelta(seconds=30),
    )
    kyc = KycFacts(
        CustomerType.INDIVIDUAL, Effectiveness((Missing.DOCUMENT_EXPIRED,)), "full", 34, "KR", "KR", None,
        True, BankAccountFacts(True, False, True),
    )  # fmt: skip
    facts = Facts(
        now,
        Authentication(AuthStatus.STALE_TIMESTAMP, "late", (("timestamp", 1), ("server_time", 2))),
        CustomerFacts(str(uuid.uuid4()), CustomerStatus.ACTIVE, "US", "NY", "KR", CustomerType.INDIVIDUAL),
        catalog,
        kyc,
    )
    return dataclasses.replace(facts, **changes)


ORDER = Action(
    ActionKind.ORDER, "binance.order.create", str(uuid.uuid4()), "BTCUSDT", "BTC", "USDT", None, Side.BUY,
    "LIMIT", Decimal("0.00100"), Decimal("60000.5"), quote_quantity=Decimal("60.0005"),
    address_tag="memo-7", problems=(ParseProblem("duplicate_parameter", "side", "twice"),),
)  # fmt: skip


def test_facts_round_trip_with_the_catalog_cut_to_the_action() -> None:
    facts = _facts()
    stored = facts_codec.decode(facts_codec.encode(facts, ORDER))
    assert stored.defaulted == ()
    assert stored.facts.markets is not None and facts.markets is not None
    assert stored.facts.markets.markets == {"BTCUSDT": facts.markets.markets["BTCUSDT"]}
    assert stored.facts.markets.assets == {"BTC", "USDT"}
    assert stored.facts == dataclasses.replace(facts, markets=stored.facts.markets)
    # Without a catalog, customer or KYC facts (an unauthenticated call, say), too.
    bare = _facts(markets=None, customer=None, kyc=None)
    assert facts_codec.decode(facts_codec.encode(bare, ORDER)).facts == bare


def test_facts_dumped_once_for_many_calls_read_as_a_whole_dump_would() -> None:
    """The codec dumps Facts field by field and reuses what calls share (customer, KYC,
    the scoped catalog): the document must be what one dump of the whole Facts writes,
    the first time and from the shared dumps, and change when the shared facts change."""
    facts = _facts()
    assert facts.markets is not None

    def whole(f: Facts, action: Action) -> Any:
        assert f.markets is not None
        scoped = dataclasses.replace(f, markets=facts_codec._scoped_catalog(f.markets, action))
        return facts_codec._FACTS.dump_python(scoped, mode="json")

    for _ in range(2):
        assert facts_codec._dump_facts(facts, ORDER) == whole(facts, ORDER)
    other = dataclasses.replace(ORDER, symbol="ETHUSDT", base_asset="ETH")
    assert facts_codec._dump_facts(facts, other) == whole(facts, other)
    assert facts.kyc is not None
    older = _facts(kyc=dataclasses.replace(facts.kyc, age=35), customer=facts.customer)
    assert facts_codec._dump_facts(older, ORDER) == whole(older, ORDER)
    assert facts_codec._dump_facts(older, ORDER)["kyc"]["age"] == 35
    refetched = dataclasses.replace(facts.markets, assets=frozenset({"BTC"}))
    assert facts_codec._dump_facts(_facts(markets=refetched), ORDER)["markets"]["assets"] == ["BTC"]


@given(
    moment=st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.timezones())),
    authentication=st.sampled_from(
        [
            Authentication(AuthStatus.OK),
            Authentication(AuthStatus.STALE_TIMESTAMP, values=(("timestamp", 1),)),
        ]
    ),
)
def test_the_time_and_authentication_are_written_as_pydantic_writes_them(
    moment: datetime, authentication: Authentication
) -> None:
    """`now` is written without the adapter, and the authentication from the shared dumps:
    both exactly as a whole dump of the Facts writes them, for any datetime (naive, UTC,
    any zone, with and without microseconds)."""
    assert facts_codec.instant_json(moment) == TypeAdapter(datetime).dump_python(moment, mode="json")
    facts = dataclasses.replace(_facts(), now=moment, authentication=authentication)
    dumped = facts_codec._dump_facts(facts, ORDER)
    whole = facts_codec._FACTS.dump_python(facts, mode="json")
    assert (dumped["now"], dumped["authentication"]) == (whole["now"], whole["authentication"])


def test_action_is_rebuilt_from_columns_and_document() -> None:
    row = dict(zip(DECISIONS.columns, _row(ORDER, _facts()).record(), strict=True))
    stored = facts_codec.decode(row["facts"])
    assert facts_codec.action_from_row(row, stored.action_extra) == ORDER
    # Every Action field without a column travels in the document, new ones included.
    assert {"quote_quantity", "address_tag", "problems"} <= set(stored.action_extra)


def test_unknown_and_missing_fields_are_handled_not_guessed() -> None:
    document = orjson.loads(facts_codec.encode(_facts(), ORDER))
    # A newer writer's extra fields are ignored; a field the document lacks takes its default.
    document["facts"]["from_the_future"] = {"screened": True}
    document["facts"]["customer"]["risk_score"] = 7
    del document["facts"]["kyc"]  # written before KYC facts existed
    stored = facts_codec.decode(orjson.dumps(document))
    assert stored.defaulted == ("kyc",) and stored.facts.kyc is None
    assert stored.facts.customer == _facts().customer or stored.facts.customer is not None
    # A required field missing, or another format: unreadable, with a reason.
    del document["facts"]["authentication"]
    with pytest.raises(FactsUnreadable) as caught:
        facts_codec.decode(orjson.dumps(document))
    assert caught.value.reason == "facts_unreadable"
    with pytest.raises(FactsUnreadable) as caught:
        facts_codec.decode(orjson.dumps({"format": "facts/999", "facts": {}}))
    assert caught.value.reason == "facts_format_unknown"


def test_personal_data_never_reaches_the_document() -> None:
    text = facts_codec.encode(_facts(), ORDER)
    assert "date_of_birth" not in text and "national_id" not in text and "account_number" not in text
    nested = {"a": [{"national_id": "900101-1234568", "ok": 1}], "account_number": "123-45", "iban": None}
    found: list[tuple[str, Any]] = []
    assert facts_codec._mask(nested, "facts", found) == {
        "a": [{"national_id": "masked", "ok": 1}], "account_number": "masked", "iban": None,
    }  # fmt: skip
    assert found == [("facts.a.0.national_id", "900101-1234568"), ("facts.account_number", "123-45")]
    # The travel-rule payload (IVMS101: names, ids) is masked, and the document says so.
    payload = '{"originator": {"naturalPersonName": "Kim Minjun"}}'
    document = orjson.loads(facts_codec.encode(_facts(), dataclasses.replace(ORDER, travel_rule=payload)))
    assert "Kim" not in orjson.dumps(document).decode() and "action.travel_rule" in document["masked"]
    assert "sealed" not in document  # nothing to open it with: masked only
    assert facts_codec.decode(orjson.dumps(document)).masked == tuple(document["masked"])


def test_sealed_personal_inputs_open_only_with_the_key_for_that_decision() -> None:
    payload = '{"originator": {"naturalPersonName": "Kim Minjun"}}'
    action = dataclasses.replace(ORDER, travel_rule=payload)
    decision, facts = uuid.uuid4(), _facts()
    box = SecretBox(SECRET_KEY)
    text = facts_codec.encode(facts, action, PersonalSeal(box, decision))
    document = orjson.loads(text)
    assert "Kim" not in text and document["masked"] == ["action.travel_rule"] and document["sealed"]
    # With the key, for this decision: the inputs as they were, nothing masked.
    opened = facts_codec.decode(text, PersonalSeal(box, decision))
    assert opened.masked == () and opened.action_extra["travel_rule"] == payload
    assert opened.facts == facts_codec.decode(facts_codec.encode(facts, ORDER)).facts
    # Another decision's binding, or another key: masked, so not replayable.
    for other in (PersonalSeal(box, uuid.uuid4()), PersonalSeal(SecretBox(new_key_b64()), decision)):
        assert facts_codec.decode(text, other).masked == ("action.travel_rule",)
    # A tampered ciphertext does not open either.
    document["sealed"] = document["sealed"][:-4] + "AAAA"
    assert facts_codec.decode(orjson.dumps(document), PersonalSeal(box, decision)).masked != ()


def _row(action: Action, facts: Facts | None) -> DecisionRow:
    verdict = Verdict(Outcome.ALLOW, (Finding("kyc", "zz.kyc.full", Outcome.ALLOW, "", "ok"),), "v1")
    return DecisionRow(
        new_decision_id(), datetime.now(UTC), "req", action.customer_id, None, "binance", "POST",
        "/api/v3/order", action, verdict, 10, facts=facts,
    )  # fmt: skip


def test_rows_without_facts_hash_as_before_the_column_existed() -> None:
    """Entries chained before migration 0006 still verify; facts are hashed once present."""
    values = _row(ORDER, None).record()
    chain, prev = uuid.uuid4(), bytes(32)
    before = hashlib.sha256(
        canonical_bytes(
            "decisions", DECISIONS.columns[:-1], frozenset({"findings"}), values[:-1], chain, 1, prev
        )
    ).digest()
    assert DECISIONS.hash(values, chain, 1, prev) == before
    with_facts = _row(ORDER, _facts()).record()
    assert DECISIONS.hash(with_facts, chain, 1, prev) != DECISIONS.hash(
        (*with_facts[:-1], None), chain, 1, prev
    )


# --- replay through the real gateway ---------------------------------------------------


@dataclass
class Site:
    url: str
    folder: Path
    owner_dsn: str
    settings: Settings


@pytest_asyncio.fixture
async def site(tmp_path: Path, database_url: str, exchange: Exchange) -> AsyncIterator[Site]:
    folder = write_book(tmp_path / "packs")
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        rules_dir=str(folder), home_country="FR",
    )  # fmt: skip
    async with serving(create_app(settings)) as url:
        yield Site(url, folder, database_url, settings)


async def _trade(url: str, customer: Customer, symbol: str, withdraw: bool = False) -> None:
    """Through ccxt, as a client would; refusals surface as ccxt errors."""
    import ccxt.async_support as ccxt

    client = ccxt_client(url, customer)
    try:
        await client.load_markets()
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: client.create_order(symbol, "market", "buy", 0.01)
        ]
        if withdraw:
            # With travel-rule data: personal inputs, which the decision keeps sealed.
            calls.append(lambda: client.withdraw("BTC", 0.001, ADDRESS, params=travel_rule_params()))
        for call in calls:
            with contextlib.suppress(ccxt.BaseError):  # refused: the decision is logged all the same
                await call()
    finally:
        await client.close()


async def _withdrawal_documents(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT facts::text AS facts FROM decisions WHERE action_kind = 'withdrawal'")
        return [r["facts"] for r in rows]
    finally:
        await conn.close()


async def _decision_ids(dsn: str, customer: Customer, kind: str, symbol: str | None = None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT id::text FROM decisions WHERE customer_id = $1 AND action_kind = $2
                  AND ($3::text IS NULL OR symbol = $3) ORDER BY decided_at""",
            uuid.UUID(customer.id), kind, symbol,
        )  # fmt: skip
        return [r["id"] for r in rows]
    finally:
        await conn.close()


async def _log_state(dsn: str) -> tuple[int, list[bytes]]:
    conn = await asyncpg.connect(dsn)
    try:
        hashes = await conn.fetch("SELECT entry_hash FROM decisions ORDER BY chain_id, seq")
        return len(hashes), [bytes(r["entry_hash"]) for r in hashes]
    finally:
        await conn.close()


async def _replay(
    http: aiohttp.ClientSession, site: Site, version: str, since: datetime, **extra: Any
) -> tuple[int, Any]:
    body = {
        "since": since.isoformat(),
        "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        **extra,
    }
    path = f"/admin/v1/rule-packs/{version}/replay"
    return await admin(http, site.url, "POST", path, token=AUDITOR_TOKEN, json=body)


def _by_id(changes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["decision_id"]: c for c in changes}


@pytest.mark.asyncio
async def test_replay_lists_exactly_the_changed_decisions(site: Site, http: aiohttp.ClientSession) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    aland = await new_customer(http, site.url, "aland", residence_country="AX", nationality="AX")
    bland = await new_customer(http, site.url, "bland", residence_country="BB", nationality="BB")
    korea = await new_customer(http, site.url, "korea", residence_country="KR", nationality="KR")
    for customer in (aland, bland, korea):
        await _trade(site.url, customer, "BTC/USDT", withdraw=True)
        await _trade(site.url, customer, "XMR/USDT")
    # A call too malformed to gather facts for: decided and logged, but not replayable.
    async with http.post(
        site.url + "/api/v3/order",
        data=b"x",
        headers={"X-MBX-APIKEY": korea.api_key, "Content-Type": "text/plain"},
    ) as response:
        assert response.status == 415 and "X-Decision-Id" in response.headers
    status, listed = await admin(http, site.url, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN)
    first = listed["active"]
    count, hashes = await _log_state(site.owner_dsn)

    # The same version changes nothing.
    status, same = await _replay(http, site, first, since)
    assert status == 200, same
    # Withdrawals whose AML facts held personal data replay too: sealed, then opened.
    documents = await _withdrawal_documents(site.owner_dsn)
    sealed = [d for d in documents if '"masked"' in d]
    assert sealed and all('"sealed"' in d for d in sealed)
    assert not any("Minjun" in d for d in documents)
    assert same["examined"] == count and same["replayed"] == count - 1
    assert same["not_replayable"] == {"no_facts": 1}
    assert same["changed"] == same["reasons_changed"] == [] and same["changed_total"] == 0
    assert all(t["from"] == t["to"] for t in same["transitions"])
    assert same["logged_versions"] == {first: count - 1}

    # Åland lifts its trading ban; Bland bars privacy coins for its residents.
    (site.folder / "ax.toml").write_text(BAN_LIFTED)
    (site.folder / "bb.toml").write_text(PRIVACY_BARRED)
    status, reloaded = await admin(http, site.url, "POST", "/admin/v1/rule-packs/reload")
    assert status == 200 and reloaded["changed"], reloaded
    second = reloaded["version"]

    status, report = await _replay(http, site, second, since)
    assert status == 200, report
    aland_btc = await _decision_ids(site.owner_dsn, aland, "order", "BTCUSDT")
    aland_withdrawal = await _decision_ids(site.owner_dsn, aland, "withdrawal")
    aland_xmr = await _decision_ids(site.owner_dsn, aland, "order", "XMRUSDT")
    bland_xmr = await _decision_ids(site.owner_dsn, bland, "order", "XMRUSDT")
    assert len(aland_btc) == len(aland_withdrawal) == len(aland_xmr) == len(bland_xmr) == 1

    changed = _by_id(report["changed"])
    aland_btc += aland_withdrawal  # a withdrawal is lifted with the ban too
    assert set(changed) == {*aland_btc, *bland_xmr}
    assert report["changed_total"] == len(changed)
    for lifted in aland_btc:
        change = changed[lifted]
        assert (change["from"]["outcome"], change["to"]["outcome"]) == ("deny", "allow")
        assert (
            change["from"]["reasons"] == ["trading_prohibited"]
            and "ax.trading.ban" in change["from"]["rule_ids"]
        )
        assert change["to"]["reasons"] == [] and "ax.trading.ban" not in change["to"]["rule_ids"]
        assert change["logged_version"] == first
    barred = changed[bland_xmr[0]]
    assert (barred["from"]["outcome"], barred["to"]["outcome"]) == ("allow", "deny")
    assert barred["to"]["reasons"] == ["asset_class_prohibited"] and barred["to"]["rule_ids"] == [
        "bb.privacy"
    ]
    assert "privacy coin" in barred["to"]["message"]
    # Åland's XMR order stays refused, now on the privacy-coin rule alone.
    [still] = report["reasons_changed"]
    assert still["decision_id"] == aland_xmr[0]
    assert set(still["from"]["reasons"]) == {"trading_prohibited", "asset_class_prohibited"}
    assert still["to"]["reasons"] == ["asset_class_prohibited"]
    moved = {(t["from"], t["to"]): t["count"] for t in report["transitions"] if t["from"] != t["to"]}
    assert moved == {("deny", "allow"): len(aland_btc), ("allow", "deny"): 1}

    # One customer's decisions only.
    status, one = await _replay(http, site, second, since, customer_id=bland.id)
    assert status == 200 and [c["decision_id"] for c in one["changed"]] == bland_xmr

    # The log is untouched and still verifies; the switch itself is an audit event.
    assert await _log_state(site.owner_dsn) == (count, hashes)
    status, verified = await admin(http, site.url, "GET", "/admin/v1/audit/verify", token=AUDITOR_TOKEN)
    assert status == 200 and verified["status"] == "intact", verified
    status, events = await admin(
        http, site.url, "GET", "/admin/v1/audit/events?kind=rule_pack.switched", token=AUDITOR_TOKEN
    )
    assert status == 200
    [event] = events["events"]
    assert event["details"] == {"from": first, "to": second} and event["actor"].startswith("admin:operator:")

    # Bounded: the report says when the range held more than the maximum examined.
    conn = await asyncpg.connect(site.owner_dsn)
    try:
        until = datetime.now(UTC) + timedelta(minutes=1)
        cut = await replay_module.replay(conn, second, since, until, settings=site.settings, max_decisions=2)
        assert cut.examined == 2 and cut.truncated
        assert await conn.fetchval("SELECT count(*) FROM decisions") == count
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_replay_errors_and_roles(site: Site, http: aiohttp.ClientSession) -> None:
    status, listed = await admin(http, site.url, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN)
    version = listed["active"]
    now = datetime.now(UTC)
    good = {"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    path = f"/admin/v1/rule-packs/{version}/replay"

    status, body = await admin(
        http, site.url, "POST", "/admin/v1/rule-packs/sha256:0000/replay", token=AUDITOR_TOKEN, json=good
    )
    assert status == 404 and body["error"]["code"] == "not_found"
    backwards = {"since": good["until"], "until": good["since"]}
    status, body = await admin(http, site.url, "POST", path, token=AUDITOR_TOKEN, json=backwards)
    assert status == 422 and body["error"]["code"] == "validation_failed"
    status, body = await admin(
        http, site.url, "POST", path, token=AUDITOR_TOKEN, json={**good, "until": "2026-01-01T00:00:00"}
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "until"
    status, body = await admin(
        http, site.url, "POST", path, token=AUDITOR_TOKEN, json={**good, "since": "0001-01-01T00:00:00+01:00"}
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "since", "out of range once in UTC"
    # Operators read rules but not decisions: a per-decision report is decision data.
    status, body = await admin(http, site.url, "POST", path, json=good)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await admin(http, site.url, "POST", path, token=OFFICER_TOKEN, json=good)
    assert status == 200 and body["examined"] == 0 and body["version"] == version


@pytest.mark.asyncio
async def test_cli_replay(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    conn = await asyncpg.connect(site.owner_dsn)
    try:
        version = await conn.fetchval("SELECT version FROM rule_pack_versions")
    finally:
        await conn.close()
    now = datetime.now(UTC)
    args = argparse.Namespace(
        version=version, since=now - timedelta(hours=1), until=now, customer_id=None, limit=10
    )
    assert await replay_module.run(args, site.settings) == 0
    assert orjson.loads(capsys.readouterr().out)["version"] == version
    assert (
        await replay_module.run(argparse.Namespace(**{**vars(args), "version": "sha256:00"}), site.settings)
        == 2
    )
