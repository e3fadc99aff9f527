"""The compliance console: server-rendered pages at /console/ on the admin API's roles,
permissions and services (setup.py wires it; ARCHITECTURE.md and README.md describe it)."""

from __future__ import annotations

CONSOLE_PREFIX = "/console/"
CONSOLE_HOME = "/console/"
LOGIN_PATH = "/console/login"
STATIC_PREFIX = "/console/static/"


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX.rstrip("/") or path.startswith(CONSOLE_PREFIX)
