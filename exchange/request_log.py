"""A bounded log of the requests the exchange accepted, for tests to prove what got through.

Only requests that passed the gateway-token check are logged (a request with a bad token
never reached the exchange's logic), and `/ops/*` calls are not logged so that reading the
log does not change it. The ring buffer forgets old entries; `total` never goes back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    seq: int
    method: str
    path: str
    customer_id: str | None
    time_ms: int
    status: int

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq, "method": self.method, "path": self.path,
            "customer_id": self.customer_id, "time": self.time_ms, "status": self.status,
        }


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self.total = 0
        self.rejected = 0

    def record(self, method: str, path: str, customer_id: str | None, status: int, time_ms: int) -> None:
        self.total += 1
        self._entries.append(LoggedRequest(self.total, method, path, customer_id, time_ms, status))

    def since(self, seq: int, limit: int) -> list[LoggedRequest]:
        out: list[LoggedRequest] = []
        # Entries are in seq order; walking from the newest end keeps a poll for "new since
        # my last look" cheap however large the buffer is.
        for entry in reversed(self._entries):
            if entry.seq <= seq:
                break
            out.append(entry)
        out.reverse()
        return out[:limit]

    def __len__(self) -> int:
        return len(self._entries)
