"""The real-browser suite: Debian's Chromium, driven by Playwright, against a real gateway
(mock exchange, real Postgres, real HTTP on 127.0.0.1).

Playwright runs with its async API on the test's own event loop, the one the gateway's
server runs on, so a test can drive the browser and look at the database and the exchange
in one coroutine. Playwright's browsers are never downloaded (`playwright install` is not
run): the system's Chromium is launched by its path. Without it the suite skips, except
under CI (CI=true), where .ci/run installs it and a missing browser fails the run.

Every page a test opens is watched: a console error (a CSP violation is one) or an
uncaught script error fails the test when it ends.

CONSOLE_SCREENSHOTS=1 also saves the main pages under docs/console/ (see test_screenshots.py).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway.app import create_app
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, serving

try:
    from playwright import async_api as playwright_api
except ImportError:  # checked by the `chromium` fixture: a skip here, a failure under CI
    playwright_api = None  # type: ignore[assignment]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
SECOND_OFFICER_TOKEN = "test-second-officer-token"
# Four eyes above this many KRW (GATEWAY_REVIEW_DUAL_CONTROL_ABOVE); holds made with a
# home_value over it need two officers.
DUAL_CONTROL_ABOVE = Decimal("10000000")
TOKENS = {
    "auditor": AUDITOR_TOKEN,
    "operator": OPERATOR_TOKEN,
    "compliance_officer": OFFICER_TOKEN,
    "second_officer": SECOND_OFFICER_TOKEN,
}
SCREENSHOTS_ENV = "CONSOLE_SCREENSHOTS"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "console"
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOT_MAX_HEIGHT = 1200
SIGNED_IN = re.compile(r"/console/(?!login)")  # any console page but the sign-in form
FAILED_LOAD = "Failed to load resource"
NAVIGATION_TIMEOUT_MS = 30_000  # a loaded 2-core CI machine; bounded all the same


def chromium_path() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if os.access(found, os.X_OK) else None


def missing() -> str | None:
    """What the suite lacks to run, if anything."""
    if playwright_api is None:
        return "playwright is not installed (make install: the dev extra has it)"
    if chromium_path() is None:
        return "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
    return None


def required_chromium() -> str:
    """The system Chromium's path. Missing: skipped here, a failure under CI (CI=true),
    where .ci/run installs it and a silently skipped suite would hide its absence."""
    lacking, path = missing(), chromium_path()
    if lacking is not None or path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(lacking or "no chromium")
        pytest.skip(lacking or "no chromium")
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    return required_chromium()


@pytest_asyncio.fixture
async def console_gateway(database_url: str, exchange: Exchange) -> AsyncIterator[Gateway]:
    """The gateway as tests/conftest.py serves it, with a second officer and four eyes."""
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url,
        migration_database_url=SecretStr(database_url), review_dual_control_above=DUAL_CONTROL_ABOVE,
    )  # fmt: skip
    tokens = {**settings.admin_tokens, SECOND_OFFICER_TOKEN: "compliance_officer"}
    app = create_app(settings.model_copy(update={"admin_tokens": tokens}))
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


@dataclass
class Browser:
    """Chromium with one context (its own cookies) per signed-in person."""

    base: str
    chromium: Any  # playwright Browser
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        """Fail the test on any console error (CSP violations are reported there) or
        uncaught script error on this page."""

        def on_console(message: Any) -> None:
            # "Failed to load resource" is also said of a page answered with an error status
            # a test asked for (a 403 page); on_response names the resources that failed.
            if message.type == "error" and not message.text.startswith(FAILED_LOAD):
                self.problems.append(f"console error on {page.url}: {message.text} ({message.location})")

        def on_page_error(error: Any) -> None:
            self.problems.append(f"script error on {page.url}: {error}")

        def on_response(response: Any) -> None:
            # A stylesheet, script or image the page asked for and did not get. (The page
            # itself may be an error page a test asked for; the browser's own favicon
            # request is not the page's and is not seen here.)
            if response.status >= 400 and response.request.resource_type != "document":
                self.problems.append(f"{response.status} for {response.url} on {page.url}")

        page.on("console", on_console)
        page.on("response", on_response)
        page.on("pageerror", on_page_error)
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        return page

    async def new_page(self) -> Any:
        context = await self.chromium.new_context(base_url=self.base, viewport=VIEWPORT)
        return self.watch(await context.new_page())

    async def signed_in(self, who: str) -> Any:
        """A new person (own cookies) signed in through the form with `who`'s token."""
        page = await self.new_page()
        await sign_in(page, TOKENS[who])
        return page


async def sign_in(page: Any, token: str) -> None:
    await page.goto("/console/login")
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(SIGNED_IN)


@pytest_asyncio.fixture
async def browser(chromium: str, console_gateway: Gateway) -> AsyncIterator[Browser]:
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        seen = Browser(console_gateway.url, launched)
        try:
            yield seen
        finally:
            await launched.close()
    assert not seen.problems, "\n".join(seen.problems)


async def csrf_of(page: Any) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    token: str = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    return token


def screenshots_wanted() -> bool:
    return os.environ.get(SCREENSHOTS_ENV) == "1"


async def screenshot(page: Any, name: str, max_height: int = SCREENSHOT_MAX_HEIGHT) -> None:
    """docs/console/<name>.png, when CONSOLE_SCREENSHOTS=1 (not in every run: the tree
    stays clean): the page as a reader scrolls it, cut at `max_height` so a long table
    does not make a picture of megabytes (docs/console stays near 1 MB in all)."""
    if screenshots_wanted():
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        height = min(await page.evaluate("document.documentElement.scrollHeight"), max_height)
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
        await page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True, clip=clip)
