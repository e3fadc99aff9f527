"""In Chromium: signing in as each role shows that role's navigation, the sign-in form works
from the keyboard alone, signing out ends the session on the server, and the suite's own
watch for CSP violations sees one."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SIGNED_IN, TOKENS, Browser, sign_in
from tests.conftest import Gateway

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

# What each role's navigation holds (gateway/roles.py's permissions, read by hand).
NAV = {
    "auditor": ["Overview", "Review", "Decisions", "Reports", "Customers", "Proof"],
    "compliance_officer": ["Overview", "Review", "Decisions", "Reports", "Customers", "Proof"],
    "operator": ["Customers", "Proof"],
}


@pytest.mark.parametrize("role", sorted(NAV))
async def test_each_role_signs_in_and_sees_its_navigation(browser: Browser, role: str) -> None:
    page = await browser.signed_in(role)
    nav = page.get_by_role("navigation", name="Console")
    assert await nav.get_by_role("link").all_inner_texts() == NAV[role]
    who = role.replace("_", " ")
    assert who in await page.locator("header").inner_text()
    # The token went into a form field, never into an address or the page.
    assert TOKENS[role] not in page.url
    assert TOKENS[role] not in await page.content()


async def test_a_wrong_token_is_refused_on_the_form(browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto("/console/login")
    await page.get_by_label("Admin token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    assert "/console/login" in page.url
    assert await page.get_by_role("alert").count() == 1
    assert await page.get_by_role("navigation", name="Console").count() == 0


async def test_the_sign_in_form_works_from_the_keyboard(browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto("/console/login")
    # From the top of the page: Tab until the token field has the focus (bounded).
    await page.locator("body").focus()
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == "token":
            break
    else:
        pytest.fail("Tab never reached the token field")
    await page.keyboard.type(TOKENS["auditor"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(SIGNED_IN)
    assert "/console/login" not in page.url
    assert await page.get_by_role("navigation", name="Console").count() == 1


async def test_sign_out_ends_the_session_on_the_server(browser: Browser) -> None:
    page = await browser.signed_in("auditor")
    cookies = await page.context.cookies()
    assert cookies, "signed in: a session cookie"
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/login**")

    # The old cookie, put back as a thief who copied it would: the session is gone.
    await page.context.add_cookies(cookies)
    await page.goto("/console/decisions")
    assert "/console/login" in page.url
    assert await page.get_by_role("navigation", name="Console").count() == 0


async def test_a_csp_violation_is_seen_by_the_watch(browser: Browser, console_gateway: Gateway) -> None:
    """The watch every test relies on: a style attribute set from script is refused by the
    console's CSP, Chromium reports it on the console, and the watch records it."""
    page = await browser.new_page()
    await sign_in(page, TOKENS["auditor"])
    async with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        await page.evaluate("document.body.setAttribute('style', 'color: red')")
    found = [p for p in browser.problems if "Content Security Policy" in p]
    assert found, browser.problems
    browser.problems.clear()  # seen as intended: not a failure of this test
