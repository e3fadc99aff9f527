"""One JSON error shape for every admin error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return web.Response(body=orjson.dumps({"error": body}), status=status, content_type="application/json")


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload, default=str), status=status, content_type="application/json"
    )


# The codes an admin client can rely on; a test checks every error uses one of them.
ERROR_CODES = frozenset(
    {"unauthorized", "forbidden", "not_found", "method_not_allowed", "invalid_json",
     "validation_failed", "conflict", "body_too_large", "unsupported_content_type",
     "database_unavailable", "internal_error", "sanctions_unavailable"}
)  # fmt: skip
