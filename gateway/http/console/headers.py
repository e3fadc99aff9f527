"""Security headers on every /console answer, error pages and redirects included: a strict
Content-Security-Policy (no inline script or style, nothing from another origin, no
framing), and pages never stored by a browser or proxy cache (they show personal data)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from gateway.http.console import STATIC_PREFIX, is_console_path

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CACHE: Final = "no-store"
# The vendored script and stylesheet hold nothing personal; revalidated, not refetched.
STATIC_CACHE: Final = "no-cache"


async def console_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: cheap for every other path (one prefix test)."""
    if not is_console_path(request.path):
        return
    response.headers.update(SECURITY_HEADERS)
    static = request.path.startswith(STATIC_PREFIX) and response.status < 400
    response.headers["Cache-Control"] = STATIC_CACHE if static else PAGE_CACHE
