"""What every console list page shares: the GET form's query as the admin API's readers
take it, their refusals as the console's error pages, one page of a keyset-paged search,
and the page's links (next page, exports of the same filter) as shareable URLs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from gateway.audit.exports import CONTENT_TYPES
from gateway.http.admin.disclosure import Search
from gateway.http.admin.errors import AdminError
from gateway.http.admin.queries import invalid
from gateway.http.console.errors import ConsoleError
from gateway.http.console.session import ConsoleUser
from gateway.roles import Permission
from gateway.store.decisions import BadCursor

F = TypeVar("F")


@dataclass(frozen=True)
class FormQuery:
    """A console GET form's query as the admin API's readers take it (QuerySource). A
    form sends every field, filled or not: an empty one is no filter, not a bad value."""

    query: Mapping[str, str]


def form_query(request: web.Request) -> FormQuery:
    """The filled-in parameters. How each is written (UTF-8, no control character,
    bounded, given once) the console's edge has checked (gateway/http/console/edge.py)."""
    return FormQuery({name: value for name, value in request.query.items() if value != ""})


@contextmanager
def console_problems() -> Iterator[None]:
    """An admin reader's refusal as the console's error page: a bad query value (the API's
    422) is a 400 naming the parameter and the problem; a 404 stays a 404."""
    try:
        yield
    except AdminError as exc:
        message = exc.message
        if isinstance(exc.details, list) and exc.details and isinstance(exc.details[0], dict):
            problem = exc.details[0]
            message = f"{exc.message} {problem.get('field', '')}: {problem.get('problem', '')}"
        status = 400 if exc.status == 422 else exc.status
        raise ConsoleError(status, "Bad request" if status == 400 else "Not found", message) from exc


def page_url(path: str, query: Mapping[str, str], **changes: str) -> str:
    """`path` with the current filters and `changes` (a cursor, a format) as its query."""
    params = {**query, **changes}
    return f"{path}?{urlencode(params)}" if params else path


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def one_page(
    conn: asyncpg.Connection, search: Search[F], flt: F, limit: int, params: FormQuery
) -> Page:
    """One page of a keyset-paged search; a cursor the console did not issue is a 400."""
    try:
        rows, next_cursor = await search(conn, flt, limit, params.query.get("cursor"))
    except BadCursor as exc:
        with console_problems():
            raise invalid("cursor", str(exc)) from exc
    return Page(rows, next_cursor)


@dataclass(frozen=True)
class PageLinks:
    filters: dict[str, str]  # the filters in force, to fill the form again
    exports: dict[str, str]  # format -> URL of the same filter's export (empty without the permission)
    next_url: str | None


def page_links(
    user: ConsoleUser, params: FormQuery, path: str, next_cursor: str | None, export: Permission
) -> PageLinks:
    """The list's links: the next page keeps the filters; the exports take them without the
    page size, and only for a role that may export."""
    filters = {k: v for k, v in params.query.items() if k != "cursor"}
    exports = {}
    if user.can(export):
        kept = {k: v for k, v in filters.items() if k != "limit"}
        exports = {fmt: page_url(f"{path}/export", kept, format=fmt) for fmt in CONTENT_TYPES}
    return PageLinks(filters, exports, page_url(path, filters, cursor=next_cursor) if next_cursor else None)
