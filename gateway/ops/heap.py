"""Garbage-collector tuning for a long-running server process.

Imports nothing of the gateway's own, so the bench's bare proxy can use it too.
"""

from __future__ import annotations

import gc


async def settle_heap(_app: object) -> None:
    """Tune the cyclic garbage collector for a long-running server, once started up.

    Measured under bench/run.py it took about 5% of the gateway's CPU: full collections
    walked every object loaded at startup (modules, rule packs, sanctions sets), ~70 ms
    each, and young collections, one per 700 net allocations, walked the state of every
    request in flight each time. Frozen, the startup objects are never walked again;
    a young collection per 10,000 net allocations cut the collections from ~400 to ~13 a
    run (GC time 0.6 s to under 0.1 s). Garbage without cycles is still freed at once by
    reference counting; the rest waits a little longer. Only the server does this: the
    tests build many apps in one process and must not pin them all."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
