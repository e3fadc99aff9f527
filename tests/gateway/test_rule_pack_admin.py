"""Rule packs over the admin API: list, show, diff, reload without restart, refuse a bad one."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway.app import create_app
from tests.conftest import Exchange, Gateway, gateway_settings
from tests.rules.synthetic import AX, write_book
from tests.support import AUDITOR_TOKEN, admin, new_customer, serving, signed

pytestmark = pytest.mark.asyncio
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def test_reload_switches_versions_and_refuses_bad_packs(
    tmp_path: Path, database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    folder = write_book(tmp_path / "packs")
    settings = gateway_settings(database_url, exchange.url, rules_dir=str(folder), home_country="FR")
    async with serving(create_app(settings)) as url:
        aland = await new_customer(http, url, "aland", residence_country="AX", nationality="AX")
        status, listed = await admin(http, url, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN)
        assert status == 200
        first = listed["active"]
        assert [v["version"] for v in listed["versions"]] == [first]
        status, _, _ = await signed(http, url, "POST", "/api/v3/order", aland, ORDER)
        assert status == 400, "Åland bans trading for its residents"

        # A bad file is refused, naming file and field; the running pack stays.
        (folder / "ax.toml").write_text(AX.replace("allowed = false", 'allowed = "perhaps"', 1))
        status, body = await admin(http, url, "POST", "/admin/v1/rule-packs/reload")
        assert status == 422 and body["error"]["code"] == "validation_failed"
        assert body["error"]["details"][0]["file"] == "ax.toml"
        assert "rules.0.trading.allowed" in body["error"]["details"][0]["problem"]
        assert (await admin(http, url, "GET", "/admin/v1/rule-packs"))[1]["active"] == first

        # Lifting the ban is a new version, in force at once, and the diff says what changed.
        (folder / "ax.toml").write_text(AX.replace("allowed = false", "allowed = true", 1))
        status, reloaded = await admin(http, url, "POST", "/admin/v1/rule-packs/reload")
        assert status == 200 and reloaded["changed"] and reloaded["previous"] == first
        second = reloaded["version"]
        status, _, headers = await signed(http, url, "POST", "/api/v3/order", aland, ORDER)
        assert status == 200
        status, decision = await admin(
            http, url, "GET", f"/admin/v1/decisions/{headers['X-Decision-Id']}", token=AUDITOR_TOKEN
        )
        assert decision["rule_pack_version"] == second

        status, changes = await admin(
            http, url, "GET", f"/admin/v1/rule-packs/{first}/diff/{second}", token=AUDITOR_TOKEN
        )
        assert status == 200
        assert changes["changed"] == {"ax.trading.ban": {"allowed": {"from": False, "to": True}}}
        assert changes["added"] == changes["removed"] == []

        status, shown = await admin(http, url, "GET", f"/admin/v1/rule-packs/{first}", token=AUDITOR_TOKEN)
        assert status == 200 and not shown["active"] and shown["packs"]["AX"]["rules"][0]["allowed"] is False
        status, body = await admin(http, url, "GET", "/admin/v1/rule-packs/sha256:0000", token=AUDITOR_TOKEN)
        assert status == 404


async def test_auditor_cannot_reload(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    async with serving(create_app(gateway_settings(database_url, exchange.url))) as url:
        status, body = await admin(http, url, "POST", "/admin/v1/rule-packs/reload", token=AUDITOR_TOKEN)
        assert status == 403 and body["error"]["code"] == "forbidden"


async def test_bad_pack_stops_the_start(tmp_path: Path, database_url: str, exchange: Exchange) -> None:
    from rules.loader import PackError

    folder = write_book(tmp_path / "packs", **{"ax.toml": "country = "})
    with pytest.raises(PackError, match=r"ax\.toml"):
        create_app(gateway_settings(database_url, exchange.url, rules_dir=str(folder)))


async def test_a_stored_version_that_no_longer_validates_is_a_409_never_a_500(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """A version stored by an older gateway whose content this code's validator refuses
    (the rules' schema moved on): shown, compared or replayed, it is a 409 naming the file."""
    url = gateway.url
    status, listed = await admin(http, url, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN)
    assert status == 200
    active = listed["active"]
    old = "sha256:" + "ab" * 32
    conn = await asyncpg.connect(gateway.database_url)
    try:
        content = json.loads(
            await conn.fetchval("SELECT content FROM rule_pack_versions WHERE version = $1", active)
        )
        # A field this code's schema does not know, as a later version might have added.
        content["kr.toml"]["rules"][0]["governs"] = "a_kind_from_the_future"
        await conn.execute(
            "INSERT INTO rule_pack_versions (version, content) VALUES ($1, $2::jsonb)",
            old,
            json.dumps(content),
        )
    finally:
        await conn.close()
    replay = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
    for method, path, body in (
        ("GET", f"/admin/v1/rule-packs/{old}", None),
        ("GET", f"/admin/v1/rule-packs/{old}/diff/{active}", None),
        ("GET", f"/admin/v1/rule-packs/{active}/diff/{old}", None),
        ("POST", f"/admin/v1/rule-packs/{old}/replay", replay),
    ):
        status, answer = await admin(http, url, method, path, token=AUDITOR_TOKEN, json=body)
        assert status == 409 and answer["error"]["code"] == "conflict", (path, answer)
        assert answer["error"]["details"][0]["file"], answer
