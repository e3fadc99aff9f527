"""Failed console sign-ins, limited per client address: in this worker's memory (a small
sliding window), so with N workers an address gets up to N times the limit. Enough to
make guessing a 256-bit token pointless to try from a browser, and cheap; a login from a
blocked address is refused before the token is even looked at."""

from __future__ import annotations

from collections import deque
from typing import Final

from aiohttp import web

MAX_FAILURES: Final = 10
WINDOW_SECONDS: Final = 15 * 60.0
# Addresses remembered at once; beyond, the oldest are forgotten (memory stays bounded).
MAX_ADDRESSES: Final = 10_000


class LoginThrottle:
    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self._max = max_failures
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def blocked(self, address: str, now: float) -> bool:
        return len(self._recent(address, now)) >= self._max

    def failed(self, address: str, now: float) -> None:
        times = self._recent(address, now)
        if address not in self._failures:
            while len(self._failures) >= MAX_ADDRESSES:
                del self._failures[next(iter(self._failures))]
            self._failures[address] = times
        times.append(now)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


THROTTLE: Final = web.AppKey("console_login_throttle", LoginThrottle)
