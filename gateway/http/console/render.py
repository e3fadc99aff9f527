"""Rendering console pages: the Jinja2 environment (autoescaped, templates shipped in the
package), its globals and filters, the navigation a role may see, and `render()`.

Templates `{% extends "base.html" %}` and fill the blocks `title` and `content`; every
`<form method="post">` holds `{{ csrf_field() }}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from gateway.http.console import CONSOLE_HOME, LOGIN_PATH, STATIC_PREFIX
from gateway.http.console.session import ConsoleUser
from gateway.roles import Permission

CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_NO_VALUE: Final = "—"


@dataclass(frozen=True)
class NavEntry:
    label: str
    href: str
    # Shown to a role holding any of these: the page's own checks decide what is on it.
    any_of: frozenset[Permission]


NAV: Final = (
    NavEntry("Overview", "/console/", frozenset({Permission.READ_DECISIONS, Permission.READ_HOLDS})),
    NavEntry("Review", "/console/review", frozenset({Permission.READ_HOLDS})),
    NavEntry("Decisions", "/console/decisions", frozenset({Permission.READ_DECISIONS})),
    NavEntry("Reports", "/console/reports", frozenset({Permission.READ_REPORTS})),
    NavEntry("Customers", "/console/customers", frozenset({Permission.READ_CUSTOMERS})),
    NavEntry(
        "Proof", "/console/proof",
        frozenset({Permission.VERIFY_AUDIT, Permission.READ_RULES, Permission.READ_SANCTIONS}),
    ),
)  # fmt: skip


def nav_for(user: ConsoleUser | None) -> list[NavEntry]:
    if user is None:
        return []
    return [entry for entry in NAV if any(user.can(p) for p in entry.any_of)]


def home_for(user: ConsoleUser) -> str:
    """The first page after the Overview the role may see (every role sees one)."""
    entries = [e.href for e in nav_for(user) if e.href != CONSOLE_HOME]
    return entries[0] if entries else LOGIN_PATH


@jinja2.pass_context
def csrf_field(context: jinja2.runtime.Context) -> Markup:
    """The hidden input every console POST form carries (checked by csrf.py)."""
    token = context.get(CSRF_FIELD) or ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


def money(value: Decimal | int | str | None) -> str:
    """An amount as exact text, never through a float: its digits without the zeros a
    numeric column's scale pads it with (21000000.0000000000 reads 21000000), which
    change nothing of its value."""
    if value is None:
        return _NO_VALUE
    if isinstance(value, float):
        raise TypeError("money is Decimal, never float")
    if isinstance(value, str):
        value = Decimal(value)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _utc(moment: datetime) -> datetime:
    # Naive datetimes in this project are UTC (asyncpg hands timestamptz back aware).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_utc(moment: datetime | None) -> str:
    """A moment as ISO 8601 in UTC, to the second: 2026-01-31T09:30:00Z."""
    if moment is None:
        return _NO_VALUE
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


_AGES: Final = ((86_400, "d"), (3_600, "h"), (60, "min"))


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago `moment` was, in its largest whole unit: "3 h", "12 min", "40 s"."""
    if moment is None:
        return _NO_VALUE
    seconds = int(((now or datetime.now(UTC)) - _utc(moment)).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in _AGES:
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def static_url(name: str) -> str:
    return STATIC_PREFIX + name


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("gateway.http.console", "templates"),
        autoescape=True,
        # A name a template uses but the page did not pass is a bug to see, not blank text.
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(csrf_field=csrf_field, static=static_url, csrf_header=CSRF_HEADER)
    env.filters.update(money=money, ago=ago, dt=iso_utc)


def render(
    request: web.Request, template_name: str, user: ConsoleUser | None, *, status: int = 200, **context: Any
) -> web.Response:
    """A console page: the template with the user, their navigation and CSRF token."""
    # Signed out (the sign-in page), the page passes the pre-session token itself.
    csrf_token = user.csrf_token if user is not None else context.pop(CSRF_FIELD, "")
    page = {
        "user": user,
        "nav": nav_for(user),
        "current_path": request.path,
        **context,
        CSRF_FIELD: csrf_token,
    }
    response = aiohttp_jinja2.render_template(template_name, request, page, status=status)
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response


def see_other(location: str) -> web.Response:
    """303 to `location`: every console POST answers so (post/redirect/get), and the
    browser GETs the page showing the result."""
    return web.Response(status=303, headers={"Location": location})
