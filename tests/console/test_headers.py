"""What every console answer carries (the CSP and friends, no caching of pages), the
vendored static files served with the right types and the digest SOURCE.md names, and
every template (page modules' included) fit for that CSP: nothing from another origin, no
inline script or style, a CSRF field in every POST form."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from gateway.http.console.headers import CONTENT_SECURITY_POLICY
from tests.conftest import Gateway
from tests.console.conftest import NewClient, SignIn

pytestmark = pytest.mark.asyncio

CONSOLE = Path(__file__).resolve().parents[2] / "gateway" / "http" / "console"
TEMPLATES = sorted((CONSOLE / "templates").rglob("*.html"))
STATIC = CONSOLE / "static"
EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def test_the_policy_is_the_strict_one() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives == {
        "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
        "form-action": "'self'", "frame-ancestors": "'none'", "base-uri": "'none'",
    }  # fmt: skip


async def test_every_kind_of_answer_carries_the_headers(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    answers = [
        ("/console/login", 200, "no-store"),
        ("/console/no-such-page", 404, "no-store"),
        ("/console/?a=%00", 400, "no-store"),
        ("/console", 301, "no-store"),
        ("/console/static/console.css", 200, "no-cache"),
        ("/console/static/htmx.min.js", 200, "no-cache"),
        ("/console/static/missing.js", 404, "no-store"),
    ]
    for path, status, cache in answers:
        async with client.get(path) as response:
            assert response.status == status, (path, response.status)
            for name, value in EXPECTED.items():
                assert response.headers.get(name) == value, (path, name)
            assert response.headers["Cache-Control"] == cache, path
    async with client.post("/console/logout") as response:  # a redirect after a POST, too
        assert (
            response.status == 303 and response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        )


async def test_pages_are_html_with_a_charset(browser: NewClient) -> None:
    client = await browser()
    async with client.get("/console/login") as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await response.text()
    # Accessible: the token's input has its label; the page a main landmark and a skip link.
    assert '<label for="token">' in page and 'id="token"' in page and 'type="password"' in page
    assert '<main id="main"' in page and 'href="#main"' in page


async def test_other_paths_get_none_of_it(console_app: Gateway, browser: NewClient) -> None:
    client = await browser()
    async with client.session.get(console_app.url + "/healthz") as response:
        assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("console.css", {"text/css"}),
        ("htmx.min.js", {"text/javascript", "application/javascript"}),
        ("favicon.svg", {"image/svg+xml"}),
    ],
)
async def test_static_files_are_served_with_their_types(
    browser: NewClient, name: str, types: set[str]
) -> None:
    client = await browser()
    async with client.get("/console/static/" + name) as response:
        assert response.status == 200 and response.content_type in types
        assert await response.read() == (STATIC / name).read_bytes()


async def test_htmx_is_the_file_source_md_names() -> None:
    source = (STATIC / "SOURCE.md").read_text()
    digest = hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest()
    assert f"sha256 of htmx.min.js: {digest}" in source
    assert "Zero-Clause BSD" in (STATIC / "LICENSE").read_text()


def _template_ids() -> list[str]:
    return [str(p.relative_to(CONSOLE / "templates")) for p in TEMPLATES]


async def test_templates_are_found() -> None:
    assert {"base.html", "login.html", "error.html"} <= set(_template_ids())


_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
# What a strict CSP refuses, or what would fetch from elsewhere: each is a bug in a template.
_FORBIDDEN = [
    (re.compile(r"https?:", re.IGNORECASE), "a URL of another origin (no CDN: the console works offline)"),
    (re.compile(r"""(src|href|action)\s*=\s*["']//""", re.IGNORECASE), "a protocol-relative URL"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "an inline style attribute (use console.css classes)"),
    (re.compile(r"<style", re.IGNORECASE), "an inline <style>"),
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "an inline event handler"),
    (re.compile(r"\shx-on", re.IGNORECASE), "an hx-on handler (evaluated script)"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]


@pytest.mark.parametrize("template", TEMPLATES, ids=_template_ids())
async def test_a_template_holds_nothing_the_policy_refuses(template: Path) -> None:
    text = _JINJA_COMMENT.sub("", template.read_text())
    for pattern, what in _FORBIDDEN:
        found = pattern.search(text)
        assert found is None, f"{template.name}: {what}: {found and found.group(0)!r}"


_POST_FORM = re.compile(r"<form\b[^>]*\bmethod\s*=\s*[\"']?post", re.IGNORECASE)
_FORM_BODY = re.compile(r"<form\b.*?</form>", re.IGNORECASE | re.DOTALL)


@pytest.mark.parametrize("template", TEMPLATES, ids=_template_ids())
async def test_every_post_form_carries_the_csrf_field(template: Path) -> None:
    for form in _FORM_BODY.findall(template.read_text()):
        if _POST_FORM.match(form):
            assert "csrf_field()" in form, f"{template.name}: a POST form without {{{{ csrf_field() }}}}"


async def test_every_template_and_static_file_ships_in_the_package() -> None:
    """The image installs the package (Dockerfile: pip install .): a template or static
    file no package-data pattern takes would be missing there, and its page a 500."""
    pyproject = tomllib.loads((CONSOLE.parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["gateway"]
    package = CONSOLE.parents[1]
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    files = [p for p in (*TEMPLATES, *STATIC.iterdir()) if p.is_file()]
    assert [str(p.relative_to(package)) for p in files if p not in shipped] == []
