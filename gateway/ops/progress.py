"""Progress of a long CLI command: a live count on stderr when stderr is a terminal,
nothing at all when it is not (a cron job's log or a pipe), and never a byte on stdout,
which carries the command's JSON or CSV.

The work being counted (a verification walking the log, a replay, an export) calls
`advance()`; the command that wants it shown opens `Progress(...)` around it. The count
travels in a contextvar, so the same code run by the server (the periodic verification,
an export over HTTP) counts into nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TextIO

# Redrawn at most this often: a terminal repainted per row would slow the walk it shows.
REDRAW_SECONDS = 0.2

_current: ContextVar[Progress | None] = ContextVar("progress", default=None)


def advance(done: int = 1) -> None:
    """Count `done` more units for the command in progress, if one is showing it."""
    shown = _current.get()
    if shown is not None:
        shown.advance(done)


class Progress:
    """`with Progress("verifying", "entries"):` around the work; `phase()` renames it."""

    def __init__(
        self,
        label: str,
        unit: str = "",
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        redraw_seconds: float = REDRAW_SECONDS,
    ) -> None:
        self.label = label
        self.unit = unit
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr
        self._live = _is_terminal(self._stream)
        self._clock = clock
        self._redraw = redraw_seconds
        self._started = self._drawn = clock()
        self._token: Token[Progress | None] | None = None

    def __enter__(self) -> Progress:
        self._token = _current.set(self)
        self._draw()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if self._live:
            outcome = "done" if kind is None else "stopped"
            self._draw(suffix=f" {outcome} in {self._clock() - self._started:.1f}s\n")

    def phase(self, label: str, unit: str | None = None) -> None:
        """A new step of the same command: its own label, the count from zero."""
        self.label, self.count = label, 0
        if unit is not None:
            self.unit = unit
        self._draw()

    def advance(self, done: int = 1) -> None:
        self.count += done
        if self._live and self._clock() - self._drawn >= self._redraw:
            self._draw()

    def _draw(self, suffix: str = "") -> None:
        if not self._live:
            return
        self._drawn = self._clock()
        counted = f": {self.count:,} {self.unit}".rstrip() if self.unit else ""
        # \r and "erase to end of line": one line, repainted in place.
        self._stream.write(f"\r\x1b[K{self.label}{counted}{suffix}")
        self._stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or a stand-in stream
        return False
