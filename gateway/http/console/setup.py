"""Wiring the console into the gateway app: templates, middlewares, headers, the sign-in
routes, the vendored static files, and every page module.

To add a page module: ONE import line below and ONE entry in PAGE_MODULES; the module has
`routes = web.RouteTableDef()`.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from aiohttp import web

from gateway.http.console import (
    CONSOLE_HOME,
    STATIC_PREFIX,
    customers,
    decisions,
    overview,
    proof,
    reports,
    review,
    signin,
)
from gateway.http.console.csrf import console_csrf
from gateway.http.console.edge import console_edge
from gateway.http.console.headers import console_headers
from gateway.http.console.render import home_for, setup_templates
from gateway.http.console.session import console_user
from gateway.http.console.throttle import THROTTLE, LoginThrottle
from gateway.http.middleware import AREA_MIDDLEWARES, CONSOLE_AREA

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Only the files vendored there, by exact name: no path is ever resolved from the request.
STATIC_FILES = frozenset(p.name for p in STATIC_DIR.iterdir() if p.is_file())

PAGE_MODULES: tuple[ModuleType, ...] = (decisions, reports, customers, proof, overview, review)


async def _static(request: web.Request) -> web.FileResponse:
    name = request.match_info["filename"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()  # the console's 404 page (aiohttp's static answers an empty one)
    return web.FileResponse(STATIC_DIR / name)


async def _home(request: web.Request) -> web.Response:
    """Until the Overview page is registered at /console/: the role's first page."""
    user = await console_user(request)
    raise web.HTTPSeeOther(home_for(user))


def setup_console(app: web.Application) -> None:
    setup_templates(app)
    app[THROTTLE] = LoginThrottle()
    # Inside `errors`, which hands /console requests to them untouched.
    app[AREA_MIDDLEWARES][CONSOLE_AREA] = (console_edge, console_csrf)
    app.on_response_prepare.append(console_headers)
    app.router.add_routes(signin.routes)
    app.router.add_get(STATIC_PREFIX + "{filename}", _static, name="console_static")
    for module in PAGE_MODULES:
        app.router.add_routes(module.routes)
    if not any(r.canonical == CONSOLE_HOME for r in app.router.resources()):
        app.router.add_get(CONSOLE_HOME, _home)
