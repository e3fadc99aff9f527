"""Query-string parameters of the admin read endpoints: validated, one error shape."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from gateway.http.admin.errors import AdminError

_PLAIN_DECIMAL = re.compile(r"^\d{1,30}(\.\d{1,30})?$")


class QuerySource(Protocol):
    """What the readers below need of a request: its query parameters. An admin request
    is one; the console hands them its GET form's filled-in fields (an empty form field is
    no filter), so both doors read a filter with the same code."""

    @property
    def query(self) -> Mapping[str, str]: ...


def invalid(field: str, problem: str) -> AdminError:
    return AdminError(
        422,
        "validation_failed",
        f"Invalid query parameter {field!r}.",
        [{"field": field, "problem": problem}],
    )


def check_params(request: QuerySource, allowed: frozenset[str]) -> None:
    """Only the parameters this route takes. How each is written (UTF-8, no control
    characters, bounded, given once) the admin edge has checked (gateway/http/admin/edge.py)."""
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise invalid(unknown[0], "unknown parameter")


def query_time(request: QuerySource, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise invalid(name, "expected an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise invalid(name, "the time needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
    try:
        return in_utc(value)
    except ValueError as exc:
        raise invalid(name, str(exc)) from exc


def in_utc(value: datetime) -> datetime:
    """`value` in UTC, as Postgres will store it. A time near year 1 or 9999 with an offset
    falls outside what a datetime can hold once in UTC: ValueError, not a 500 later."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("out of range once in UTC") from exc


def time_range(request: QuerySource) -> tuple[datetime | None, datetime | None]:
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and since >= until:
        raise invalid("until", "must be later than since")
    return since, until


def query_uuid(request: QuerySource, name: str) -> uuid.UUID | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise invalid(name, "expected a UUID") from exc


def query_choice(request: QuerySource, name: str, choices: Iterable[str]) -> str | None:
    raw = request.query.get(name)
    allowed = list(choices)
    if raw is not None and raw not in allowed:
        raise invalid(name, f"one of {', '.join(allowed)}")
    return raw


def query_pattern(request: QuerySource, name: str, pattern: str, problem: str) -> str | None:
    raw = request.query.get(name)
    if raw is not None and not re.fullmatch(pattern, raw):
        raise invalid(name, problem)
    return raw


def query_amount(request: QuerySource, name: str) -> Decimal | None:
    """A plain non-negative decimal, as amounts are everywhere else (no exponent, no NaN)."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if not _PLAIN_DECIMAL.match(raw):
        raise invalid(name, "a plain non-negative decimal, e.g. 1000 or 0.5")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
        raise invalid(name, "not a decimal") from exc
