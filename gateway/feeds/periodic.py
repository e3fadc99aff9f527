"""One background step repeated at a fixed period: the shape of every loop a replica runs
beside its requests (review sweep, sanctions refresh, partitions ahead, checkpoints)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Periodic:
    """Calls `step` every `every` seconds, first after one period, until stopped. The step
    handles its own expected failures: one that escapes ends the loop, and says so loudly
    through asyncio's unhandled-task report rather than being retried blind."""

    def __init__(self, name: str, every: float, step: Callable[[], Awaitable[object]]) -> None:
        self._name = name
        self._every = every
        self._step = step
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self._step()
