"""The app factory: one `create_app(settings)` for the CLI and the tests."""

from __future__ import annotations

from aiohttp import web

from gateway import appkeys as K
from gateway.decide.facts_codec import facts_box
from gateway.feeds.rulestate import RuleState
from gateway.http import health, proxy, wiring
from gateway.http.admin import audit as admin_audit
from gateway.http.admin import customers as admin_customers
from gateway.http.admin import decisions as admin_decisions
from gateway.http.admin import deposits as admin_deposits
from gateway.http.admin import kyc as admin_kyc
from gateway.http.admin import openapi as admin_openapi
from gateway.http.admin import reports as admin_reports
from gateway.http.admin import review as admin_review
from gateway.http.admin import rule_packs as admin_rule_packs
from gateway.http.admin import sanctions as admin_sanctions
from gateway.http.admin import sanctions_retro as admin_sanctions_retro
from gateway.http.admin.edge import admin_edge
from gateway.http.console.setup import setup_console
from gateway.http.middleware import ADMIN_AREA, AREA_MIDDLEWARES, Middleware, edge_headers, errors
from gateway.metrics import GatewayMetrics
from gateway.roles import AdminTokens
from gateway.sealing import SecretBox
from gateway.settings import Settings

EXCHANGE_PREFIXES = ("/api/", "/sapi/", "/fapi/", "/dapi/")


def create_app(settings: Settings, *, migrate: bool = True) -> web.Application:
    if not settings.secret_key.get_secret_value():
        raise ValueError("GATEWAY_SECRET_KEY is required")
    app = web.Application(middlewares=[errors], client_max_size=settings.max_body_bytes)
    # The admin edge runs inside `errors`, which presents what it refuses.
    areas: dict[str, tuple[Middleware, ...]] = {ADMIN_AREA: (admin_edge,)}
    app[AREA_MIDDLEWARES] = areas
    app[K.SETTINGS] = settings
    app.on_response_prepare.append(edge_headers)  # Server and X-Request-Id on every answer
    app[K.METRICS] = GatewayMetrics()
    app[K.RULES] = RuleState(settings)  # a bad pack stops the start, naming file and field
    app[K.SECRET_BOX] = SecretBox(settings.secret_key.get_secret_value())
    app[K.FACTS_BOX] = facts_box(settings.secret_key.get_secret_value())
    app[K.ADMIN_TOKENS] = AdminTokens(settings.admin_tokens)
    app.cleanup_ctx.extend(wiring.contexts(migrate))  # the services, started in order
    app.router.add_routes(health.routes)
    app.router.add_routes(admin_customers.routes)
    app.router.add_routes(admin_decisions.routes)
    app.router.add_routes(admin_deposits.routes)
    app.router.add_routes(admin_kyc.routes)
    app.router.add_routes(admin_rule_packs.routes)
    app.router.add_routes(admin_audit.routes)
    app.router.add_routes(admin_review.routes)
    app.router.add_routes(admin_reports.routes)
    app.router.add_routes(admin_sanctions.routes)
    app.router.add_routes(admin_sanctions_retro.routes)
    app.router.add_routes(admin_openapi.routes)
    for prefix in EXCHANGE_PREFIXES:
        app.router.add_route("*", prefix + "{tail:.*}", proxy.handle_exchange_call)
    setup_console(app)  # the compliance console at /console/ (its own middlewares and pages)
    return app
