"""The console's proof page on a running gateway: verification run on demand (intact with
its heads, then the first broken link after a row is tampered with, as tests/audit/ do),
the signed checkpoints, the sanctions snapshot in force and its history, the rule packs
with a diff between versions, and a what-if replay listing the changed decisions, each
section only for the roles the admin API lets see it."""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from tests.audit.support import busy_log, superuser, verify_api
from tests.conftest import Exchange, Gateway, gateway_cli, gateway_settings, runtime_dsn
from tests.console.conftest import TOKENS, ConsoleClient, SignIn
from tests.gateway.test_replay import BAN_LIFTED
from tests.rules.synthetic import write_book
from tests.sanctions.conftest import packaged_without_tornado
from tests.support import Customer, admin, new_customer, serving, signed

pytestmark = pytest.mark.asyncio


async def _page(client: ConsoleClient, path: str) -> tuple[int, str]:
    async with client.get(path) as response:
        return response.status, html.unescape(await response.text())


async def _post(client: ConsoleClient, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    async with client.post(path, data) as response:
        return response.status, html.unescape(await response.text())


async def test_verification_shows_the_heads_then_the_first_broken_link(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession
) -> None:
    await busy_log(http, console_app)
    auditor = await signed_in("auditor")
    status, page = await _page(auditor, "/console/proof")
    assert status == 200 and 'action="/console/proof/verify"' in page
    status, intact = await _post(auditor, "/console/proof/verify")
    assert status == 200, intact
    chain = console_app.app[K.WRITER].decision_chain
    assert "Intact:" in intact
    assert str(chain.chain_id) in intact and chain.head.hash.hex() in intact

    async with superuser(console_app) as conn:  # as tests/audit/test_tamper.py alters an entry
        await conn.execute(
            "UPDATE decisions SET outcome = 'deny' WHERE chain_id = $1 AND seq = 3", chain.chain_id
        )
    status, broken = await _post(auditor, "/console/proof/verify")
    assert status == 200 and "Broken:" in broken
    link = (await verify_api(http, console_app))["broken_link"]  # the admin API's answer, the same
    assert (link["stream"], link["seq"], link["problem"]) == ("decisions", 3, "entry_hash_mismatch")
    shown = (
        f"in stream <strong>decisions</strong>, chain <code>{chain.chain_id}</code>, "
        "sequence <strong>3</strong> (entry hash mismatch)"
    )
    assert shown in broken
    assert link["expected"] in broken and link["found"] in broken


async def test_checkpoints_are_listed_newest_first(
    console_app: Gateway,
    signed_in: SignIn,
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit_cli = gateway_cli(console_app, capsys, monkeypatch, "audit")
    await busy_log(http, console_app, calls=1)
    _, older = await audit_cli("checkpoint")
    await new_customer(http, console_app.url, "later")  # something logged after it
    _, newer = await audit_cli("checkpoint")
    officer = await signed_in("compliance_officer")
    status, page = await _page(officer, "/console/proof")
    assert status == 200
    assert page.index(newer["id"]) < page.index(older["id"])
    assert f"Last verified intact: checkpoint <code>{newer['id']}</code>" in page


async def test_sanctions_snapshot_in_force_and_its_history(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession
) -> None:
    status, listed = await admin(http, console_app.url, "GET", "/admin/v1/sanctions/snapshots")
    (packaged,) = listed["snapshots"]
    status, loaded = await admin(
        http, console_app.url, "POST", "/admin/v1/sanctions/snapshots", json=packaged_without_tornado()
    )
    assert status == 201, loaded
    new = loaded["snapshot"]
    operator = await signed_in("operator")  # reads sanctions and rules, not the audit chains
    status, page = await _page(operator, "/console/proof")
    assert status == 200
    in_force = page[page.index('id="sanctions"') :]
    assert f"<dt>In force</dt><dd><code>{new['id']}</code></dd>" in in_force
    assert f"{new['list']}, as of {new['as_of']}" in in_force
    assert f"<dt>Rejected</dt><dd>{new['rejected_count']}</dd>" in in_force
    assert in_force.index(new["id"]) < in_force.index(packaged["id"]), "history newest first"
    assert "Run verification" not in page and 'id="verification"' not in page
    status, _ = await _post(operator, "/console/proof/verify")
    assert status == 403


# --- rule packs and replay, on a synthetic book (tests/rules/synthetic.py) -------------


@dataclass
class Site:
    url: str
    folder: Path
    owner_dsn: str


@pytest_asyncio.fixture
async def site(tmp_path: Path, database_url: str, exchange: Exchange) -> AsyncIterator[Site]:
    folder = write_book(tmp_path / "packs")
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        rules_dir=str(folder), home_country="FR",
    )  # fmt: skip
    async with serving(create_app(settings)) as url:
        yield Site(url, folder, database_url)


@pytest_asyncio.fixture
async def clients(site: Site) -> AsyncIterator[dict[str, ConsoleClient]]:
    """A signed-in browser per role on the synthetic site."""
    opened = {}
    for role, token in TOKENS.items():
        client = ConsoleClient(
            site.url, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)), role
        )
        answer = await client.sign_in(token)
        assert answer.status == 303
        client.csrf = await client.session_csrf(site.owner_dsn)
        opened[role] = client
    yield opened
    for client in opened.values():
        await client.session.close()


async def _order(http: aiohttp.ClientSession, url: str, customer: Customer) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
    await signed(http, url, "POST", "/api/v3/order", customer, params)  # refused or not, it is logged


async def _decision_ids(dsn: str, customer: Customer) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id::text FROM decisions WHERE customer_id = $1 AND action_kind = 'order'",
            uuid.UUID(customer.id),
        )
        return [r["id"] for r in rows]
    finally:
        await conn.close()


def _local(at: datetime) -> str:
    """As a browser's datetime-local input sends it (UTC, as the page says)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


async def test_rule_packs_their_diff_and_a_replay_listing_the_changed_decisions(
    site: Site, clients: dict[str, ConsoleClient], http: aiohttp.ClientSession
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    aland = await new_customer(http, site.url, "aland", residence_country="AX", nationality="AX")
    await _order(http, site.url, aland)
    [denied] = await _decision_ids(site.owner_dsn, aland)
    status, listed = await admin(http, site.url, "GET", "/admin/v1/rule-packs")
    first = listed["active"]
    (site.folder / "ax.toml").write_text(BAN_LIFTED)  # Åland lifts its trading ban
    status, reloaded = await admin(http, site.url, "POST", "/admin/v1/rule-packs/reload")
    assert status == 200 and reloaded["changed"], reloaded
    second = reloaded["version"]

    officer = clients["compliance_officer"]
    status, page = await _page(officer, "/console/proof")
    assert status == 200
    assert f"<dt>Version in force</dt><dd><code>{second}</code></dd>" in page
    assert '<th scope="row">AX</th><td>Åland</td>' in page and first in page

    status, diff = await _page(officer, f"/console/proof/rule-packs/diff?from={first}&to={second}")
    assert status == 200, diff
    assert (
        '<th scope="row"><code>ax.trading.ban</code></th><td>allowed</td><td>false</td><td>true</td>' in diff
    )
    status, _ = await _page(
        officer, f"/console/proof/rule-packs/diff?from={first}&to=sha256:0000000000000000"
    )
    assert status == 404
    status, _ = await _page(officer, "/console/proof/rule-packs/diff")
    assert status == 400

    until = datetime.now(UTC) + timedelta(minutes=2)
    form = {"version": second, "since": _local(since), "until": _local(until)}
    status, replayed = await _post(officer, "/console/proof/replay", form)
    assert status == 200, replayed
    changed = replayed[replayed.index("Decisions whose outcome would change") :]
    assert f"/console/decisions/{denied}" in changed and "deny → allow" in changed
    assert "trading_prohibited" in changed
    status, same = await _post(officer, "/console/proof/replay", {**form, "version": first})
    assert status == 200 and "No decision in the range would have another outcome." in same

    status, refused = await _post(officer, "/console/proof/replay", {**form, "until": form["since"]})
    assert status == 422 and "Until must be later than since." in refused
    status, refused = await _post(
        officer, "/console/proof/replay", {**form, "version": "sha256:0000000000000000"}
    )
    assert status == 422 and "No rule pack of that version" in refused
    for since_text in ("yesterday", "9999-12-31T23:59:00-14:00"):  # not a date; past year 9999 in UTC
        status, refused = await _post(officer, "/console/proof/replay", {**form, "since": since_text})
        assert status == 422 and "A date and time such as" in refused

    # An operator reads rules but not decisions: the packs, no replay (absent, refused).
    operator = clients["operator"]
    status, page = await _page(operator, "/console/proof")
    assert status == 200 and second in page and 'action="/console/proof/replay"' not in page
    status, _ = await _post(operator, "/console/proof/replay", form)
    assert status == 403


async def test_an_unreachable_audit_replica_fails_closed_with_a_503_page(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """Verification, replay and a customer's decisions read the audit replica: down, they
    answer the 503 page (never a 500, never a page without what was asked)."""
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        audit_database_url=SecretStr("postgresql://gateway_app@127.0.0.1:1/gone"),
    )  # fmt: skip
    async with (
        serving(create_app(settings)) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        alice = await new_customer(http, url, "alice")
        officer = ConsoleClient(url, session, "compliance_officer")
        assert (await officer.sign_in(TOKENS["compliance_officer"])).status == 303
        officer.csrf = await officer.session_csrf(database_url)
        status, _ = await _post(officer, "/console/proof/verify")
        assert status == 503
        now = datetime.now(UTC)
        form = {
            "version": "sha256:0000000000000000",
            "since": _local(now - timedelta(hours=1)),
            "until": _local(now),
        }
        status, _ = await _post(officer, "/console/proof/replay", form)
        assert status == 503
        status, page = await _page(officer, f"/console/customers/{alice.id}")
        assert status == 503 and "Kim" not in page
