"""The server tunes the garbage collector once started (gateway/ops/heap.py): objects loaded
at startup are frozen out of every later collection, and young collections run less
often. The tests' own process is left as it was."""

from __future__ import annotations

import gc

import pytest
from aiohttp import web

from gateway.ops.heap import settle_heap

pytestmark = pytest.mark.asyncio


async def test_startup_objects_are_frozen_and_young_collections_spaced_out() -> None:
    before = gc.get_threshold()
    loaded_at_startup = [object() for _ in range(3)] + [[n] for n in range(1000)]
    try:
        await settle_heap(web.Application())
        assert gc.get_freeze_count() >= len(loaded_at_startup)
        assert gc.get_threshold()[0] == 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
