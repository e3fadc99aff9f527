"""The admin API's edge: every path segment and query parameter is checked here, before
any handler, so no route can hand Postgres (or a log line) a value it would refuse.

Postgres refuses NUL in text and anything that is not UTF-8; a value that reached a query
with one answered 500. yarl, for its part, quietly turns an undecodable escape into U+FFFD
and leaves a malformed one (`%zz`) as it is, so a handler would see another value than the
one sent. Both are read here from the raw request, strictly:

- a query parameter is valid UTF-8 once unescaped, holds no control character (C0, DEL,
  C1), is at most `MAX_PARAM_CHARS` long unless the parameter documents more, and is given
  once: a bad one is 422 `validation_failed` naming it;
- a path segment obeys the same rules and its id's own format (`*_id` is a UUID, a
  rule-pack version is `sha256:` and hex): a bad one names nothing that exists, 404
  `not_found`, as an id of the right shape that is not stored.

Which parameters a route takes, and what each must look like beyond this, is the
route's own business (gateway/http/admin/queries.py).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from aiohttp import web

from gateway.binance.params import CONTROL_CHARACTERS
from gateway.http.admin.disclosure import JUSTIFICATION_CHARS
from gateway.http.admin.errors import AdminError
from gateway.http.admin.queries import invalid
from gateway.http.middleware import Handler

MAX_PARAM_CHARS = 256
# Parameters documented as longer than the rest.
_PARAM_CHARS = {"justification": JUSTIFICATION_CHARS[1]}
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# rules.loader.content_version: "sha256:" and the first 16 hex digits of the digest
# (up to the whole digest, should a later version name packs by more of it).
RULE_PACK_VERSION = re.compile(r"sha256:[0-9a-f]{16,64}")
_RULE_PACK_PARAMS = frozenset({"version", "other"})  # /rule-packs/{version}/diff/{other}


class BadText(ValueError):
    """Why a raw (still percent-escaped) value cannot be taken; the message says it."""


def unescaped(raw: str, *, plus_is_space: bool, control: re.Pattern[str] = CONTROL_CHARACTERS) -> str:
    """`raw` unescaped as strict UTF-8, free of control characters, or BadText. `control`:
    which ones (a console form's free text may hold tab and line breaks)."""
    if _BAD_ESCAPE.search(raw):
        raise BadText("a '%' that does not start an escape such as %2F")
    text = raw.replace("+", " ") if plus_is_space else raw
    try:
        value = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadText("not valid UTF-8 once unescaped") from exc
    if control.search(value):
        raise BadText("holds a control character")
    return value


def check_query(raw_query: str) -> None:
    """Every parameter of the raw query string, or a 422 naming the first bad one."""
    seen: set[str] = set()
    for piece in raw_query.split("&") if raw_query else ():
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        try:
            name = unescaped(raw_name, plus_is_space=True)
        except BadText as exc:
            raise invalid("query", f"a parameter name is {exc}") from exc
        if not _PARAM_NAME.fullmatch(name):
            raise invalid("query", "parameter names are ASCII letters, digits, '_', '.' or '-', at most 64")
        if name in seen:
            raise invalid(name, "given more than once")
        seen.add(name)
        try:
            value = unescaped(raw_value, plus_is_space=True)
        except BadText as exc:
            raise invalid(name, str(exc)) from exc
        longest = _PARAM_CHARS.get(name, MAX_PARAM_CHARS)
        if len(value) > longest:
            raise invalid(name, f"longer than {longest} characters")


def _path_format(name: str) -> tuple[re.Pattern[str], str] | None:
    """The format of a path parameter, by its name: routes name ids `<thing>_id`."""
    if name.endswith("_id"):
        return _UUID, "a UUID"
    if name in _RULE_PACK_PARAMS:
        return RULE_PACK_VERSION, "a rule-pack version such as sha256:0123456789abcdef"
    return None


def _not_found(name: str, problem: str) -> AdminError:
    what = name.removesuffix("_id").replace("_", " ")
    by = "id" if name.endswith("_id") else "name"
    return AdminError(404, "not_found", f"No {what} with that {by}.", [{"field": name, "problem": problem}])


def check_path(request: web.Request) -> None:
    """The raw path as sent, then each of the route's path parameters in its format."""
    raw_path = request.rel_url.raw_path
    try:
        unescaped(raw_path, plus_is_space=False)
    except BadText as exc:
        problem = [{"field": "path", "problem": str(exc)}]
        raise AdminError(404, "not_found", "No such admin resource.", problem) from exc
    for name, value in request.match_info.items():
        if len(value) > MAX_PARAM_CHARS:
            raise _not_found(name, f"longer than {MAX_PARAM_CHARS} characters")
        expected = _path_format(name)
        if expected is not None and not expected[0].fullmatch(value):
            raise _not_found(name, f"expected {expected[1]}")


async def admin_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The admin area's middleware (gateway/http/middleware.py, AREA_MIDDLEWARES)."""
    # An unknown path or method is the router's answer (404/405); nothing to check.
    if request.match_info.http_exception is None:
        check_path(request)
        check_query(request.rel_url.raw_query_string)
    return await handler(request)
