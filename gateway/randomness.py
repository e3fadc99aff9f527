"""Random bytes for ids, from the kernel's CSPRNG in batches: one getrandom per batch
instead of one per id, unpredictable all the same (decision ids, gateway/store/records.py;
request ids, gateway/logs.py)."""

from __future__ import annotations

import os


class RandomChunks:
    """Chunks of `size` random bytes, drawn `batch` at a time. `list.pop` is atomic, so
    threads never share a chunk; a forked worker drops its copy of the parent's batch and
    draws its own."""

    def __init__(self, size: int, batch: int) -> None:
        self._size = size
        self._batch = batch
        self._chunks: list[bytes] = []
        os.register_at_fork(after_in_child=self._chunks.clear)

    def take(self) -> bytes:
        try:
            return self._chunks.pop()
        except IndexError:
            raw = os.urandom(self._size * self._batch)
            self._chunks.extend(raw[at : at + self._size] for at in range(self._size, len(raw), self._size))
            return raw[: self._size]

    def left(self) -> int:
        """Chunks drawn and not yet taken."""
        return len(self._chunks)
