"""Loading checked lists into Postgres, by the admin API and the CLI: a corrupted list
refused with every entry named and nothing stored; accept_partial storing the valid
entries and recording the rest; the mass-delisting guard, on loads and reactivations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway import appkeys as K
from gateway.sanctions.service import packaged_snapshot
from tests.conftest import Cli, Gateway
from tests.sanctions.conftest import TORNADO
from tests.sanctions.test_sources import DATA, LEGACY, _corrupted
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, admin

pytestmark = pytest.mark.asyncio
SNAPSHOTS = "/admin/v1/sanctions/snapshots"


def _body(entries: Any, **options: Any) -> dict[str, Any]:
    addresses = [{"address": a, "network": n} for a, n in entries]
    return {"list": "OFAC SDN (mirror)", "as_of": "2025-03-21", "addresses": addresses, **options}


async def _state(gateway: Gateway) -> tuple[int, int, int, str]:
    pool = gateway.pool
    return (
        await pool.fetchval("SELECT count(*) FROM sanctions_snapshots"),
        await pool.fetchval("SELECT count(*) FROM sanctions_rejections"),
        await pool.fetchval("SELECT count(*) FROM audit_events WHERE kind = 'list_snapshot.loaded'"),
        gateway.app[K.SANCTIONS].current.snapshot_id,
    )


async def test_a_corrupted_list_is_refused_naming_every_entry(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    before = await _state(gateway)
    status, answer = await admin(
        http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=_body(_corrupted().entries)
    )
    assert status == 422, answer
    error = answer["error"]
    assert error["code"] == "validation_failed" and "nothing was stored" in error["message"]
    details = error["details"]
    assert details["problem_count"] == len(details["problems"]) == 6
    assert [p["index"] for p in details["problems"]] == [10, 11, 12, 13, 14, 15]
    assert "source looks case-folded: 2 entries" in details["summary"]["notes"]
    assert await _state(gateway) == before, "nothing stored, nothing logged, the list in force unchanged"


async def test_accept_partial_stores_the_valid_and_records_the_rejected(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    corrupted = _corrupted()
    body = _body(corrupted.entries, accept_partial=True, confirm_delisting=True)  # 20 of 640 kept
    status, loaded = await admin(http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=body)
    assert status == 201, loaded
    assert (loaded["rejected"], loaded["summary"]["valid"], loaded["snapshot"]["rejected_count"]) == (
        6,
        20,
        6,
    )
    snapshot_id = loaded["snapshot"]["id"]
    status, listed = await admin(
        http, gateway.url, "GET", f"{SNAPSHOTS}/{snapshot_id}/rejected?limit=4", token=AUDITOR_TOKEN
    )
    assert status == 200, listed
    assert listed["rejected_count"] == 6
    assert [(r["index"], r["address"]) for r in listed["rejected"]] == [
        (i, corrupted.entries[i][0]) for i in (10, 11, 12, 13)
    ], "as published, in source order, `limit` of them"
    event = await gateway.pool.fetchrow(
        "SELECT details FROM audit_events WHERE kind = 'list_snapshot.loaded' AND subject_id = $1",
        snapshot_id,
    )
    assert (event["details"]["rejected"], event["details"]["accept_partial"], event["details"]["case_folded"]) == (
        6, True, 2,
    )  # fmt: skip
    sanctions = gateway.app[K.SANCTIONS]
    assert sanctions.current.snapshot_id == snapshot_id and sanctions.is_listed(corrupted.entries[0][0])
    # The same valid entries without the rejected ones are another snapshot, not this one.
    valid_only = corrupted.entries[:10] + corrupted.entries[16:]
    status, again = await admin(
        http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=_body(valid_only)
    )
    assert status == 201 and again["outcome"] == "loaded", again
    assert again["snapshot"]["id"] != snapshot_id and again["rejected"] == 0
    status, none = await admin(
        http, gateway.url, "GET", f"{SNAPSHOTS}/sha256:{'0' * 64}/rejected", token=AUDITOR_TOKEN
    )
    assert status == 404, none


async def test_the_delisting_guard(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    packaged = packaged_snapshot()
    small = _body([(TORNADO, "ETH"), (LEGACY, "XBT")])
    before = await _state(gateway)
    status, refused = await admin(http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=small)
    assert status == 409, refused
    assert refused["error"]["code"] == "conflict"
    assert refused["error"]["details"] == {
        "in_force": 640,
        "would_delist": 638,
        "ratio": 0.9969,
        "limit": 0.1,
    }
    assert await _state(gateway) == before, "a truncated list unscreens no one"
    status, loaded = await admin(
        http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json={**small, "confirm_delisting": True}
    )
    assert status == 201 and (loaded["delisted"], loaded["delisting_confirmed"]) == (638, True), loaded
    # Reactivating the full list delists nothing; going back to the small one is guarded again.
    whole = _body([(a, n) for n, addresses in packaged.addresses.addresses.items() for a in addresses])
    status, back = await admin(http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=whole)
    assert status == 201 and back["delisted"] == 0, back
    status, refused = await admin(http, gateway.url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=small)
    assert status == 409 and refused["error"]["details"]["would_delist"] == 638, refused
    assert gateway.app[K.SANCTIONS].current.snapshot_id == back["snapshot"]["id"]


async def test_the_cli_refuses_reports_and_guards(
    gateway: Gateway, sanctions_cli: Cli, tmp_path: Path
) -> None:
    before = await _state(gateway)
    (tmp_path / "sanctioned_addresses_XBT.txt").write_text(f"{LEGACY}\n{LEGACY.lower()}\n{LEGACY[:-4]}\n")
    dated = ("--list", "mirror", "--as-of", "2025-01-01")
    code, out = await sanctions_cli("load", str(tmp_path), *dated)
    assert code == 2, out
    assert [p["index"] for p in out["details"]["problems"]] == [1, 2]
    assert out["details"]["summary"]["case_folded"] == 1
    code, out = await sanctions_cli("load", str(DATA / "sdn_advanced_sample.xml"))
    assert code == 3 and out["details"]["in_force"] == 640, out
    assert await _state(gateway) == before
    code, out = await sanctions_cli("load", str(tmp_path), *dated, "--accept-partial", "--confirm-delisting")
    assert code == 0 and (out["rejected"], out["snapshot"]["address_count"]) == (2, 1), out
    code, out = await sanctions_cli(
        "load", str(DATA / "addresses.csv"), "--format", "csv", *dated, "--confirm-delisting"
    )
    assert code == 0 and out["summary"]["exact_only"] == 1 and out["added"] == 3, out
