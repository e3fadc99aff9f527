"""Verifying a customer under a home pack that defines no verification levels (China's:
crypto business is banned there) answers a clear 422 naming the home pack, not "one of"
followed by nothing; a home pack with levels still names the ones it has."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.app import create_app
from tests.conftest import Exchange, gateway_settings
from tests.support import OFFICER_TOKEN, admin, identity_body, new_customer, serving

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("home", "message", "problem"),
    [
        ("CN", "The home pack (CN) defines no verification levels: customers cannot be verified under it.",
         "no_levels_in_home_pack_CN"),
        ("KR", "Unknown verification level.", "one of basic, full"),
    ],
)  # fmt: skip
async def test_verifying_under_a_home_pack_without_levels(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, home: str, message: str, problem: str
) -> None:
    async with serving(create_app(gateway_settings(database_url, exchange.url, home_country=home))) as url:
        customer = await new_customer(http, url, "unverifiable", verified=False, identity=identity_body())
        status, answer = await admin(http, url, "POST", f"/admin/v1/customers/{customer.id}/verification",
                                     token=OFFICER_TOKEN, json={"decision": "verify", "level": "gold"})  # fmt: skip
    assert status == 422, answer
    error = answer["error"]
    assert (error["code"], error["message"]) == ("validation_failed", message)
    assert error["details"] == [{"field": "level", "problem": problem}]
