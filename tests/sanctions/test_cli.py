"""`python -m gateway sanctions load | list`, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway import appkeys as K
from gateway.sanctions.service import packaged_snapshot
from tests.conftest import Cli, Gateway
from tests.sanctions.conftest import TORNADO, packaged_without_tornado

pytestmark = pytest.mark.asyncio
PACKAGED_DIR = Path(__file__).resolve().parents[2] / "aml" / "data" / "sanctions"


async def test_load_a_json_file_then_list(gateway: Gateway, sanctions_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "ofac-2025-03-21.json"
    source.write_bytes(orjson.dumps(packaged_without_tornado()))
    code, out = await sanctions_cli("load", str(source), "--actor", "alice@compliance")
    assert code == 0, out
    assert (out["outcome"], out["delisted"], out["snapshot"]["loaded_by"]) == (
        "loaded",
        1,
        "alice@compliance",
    )
    event = await gateway.pool.fetchrow(
        "SELECT actor, details FROM audit_events WHERE kind = 'list_snapshot.loaded' AND subject_id = $1",
        out["snapshot"]["id"],
    )
    assert event["actor"] == "alice@compliance" and event["details"]["outcome"] == "loaded"

    code, listed = await sanctions_cli("list")
    assert code == 0
    assert listed["current"] == out["snapshot"]["id"]
    assert [s["id"] for s in listed["snapshots"]] == [out["snapshot"]["id"], packaged_snapshot().id]

    sanctions = gateway.app[K.SANCTIONS]
    assert sanctions.is_listed(TORNADO), "the running gateway follows at its next refresh"
    assert await sanctions.refresh() and not sanctions.is_listed(TORNADO)


async def test_load_the_packaged_layout_is_unchanged(sanctions_cli: Cli) -> None:
    code, out = await sanctions_cli("load", str(PACKAGED_DIR))
    assert code == 0, out
    assert (out["outcome"], out["changed"]) == ("unchanged", False)
    assert out["snapshot"]["id"] == packaged_snapshot().id


async def test_a_bare_directory_needs_a_name_and_date(
    gateway: Gateway, sanctions_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "sanctioned_addresses_ETH.txt").write_text(f"{TORNADO}\n")
    code, out = await sanctions_cli("load", str(tmp_path))
    assert code == 2 and "as-of" in out["refused"]
    args = ("load", str(tmp_path), "--list", "one address", "--as-of", "2025-01-01", "--confirm-delisting")
    code, out = await sanctions_cli(*args)
    assert code == 0, out
    assert (out["snapshot"]["address_count"], out["delisted"], out["delisting_confirmed"]) == (1, 639, True)


async def test_a_bad_file_is_refused_and_nothing_stored(
    gateway: Gateway, sanctions_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "sanctioned_addresses_ETH.txt").write_text(f"{TORNADO}\n0xnot-an-address\n")
    cases = [
        (tmp_path, ["--list", "x", "--as-of", "2025-01-01"]),
        (tmp_path / "missing.json", []),
        (tmp_path / "sanctioned_addresses_ETH.txt", []),
    ]
    for path, extra in cases:
        code, out = await sanctions_cli("load", str(path), *extra)
        assert code == 2 and out["refused"], path
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_snapshots") == 1
