"""Decision ids take their random part from batched kernel randomness: they stay unique,
time-ordered UUIDv7s, and a forked worker never hands out its parent's bytes."""

from __future__ import annotations

import os
import uuid

from gateway.store import records
from gateway.store.records import new_decision_id


def test_ids_are_unique_uuid7_across_many_batches() -> None:
    ids = [new_decision_id() for _ in range(5 * records._RANDOM_BATCH)]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    # Time-ordered by their first 48 bits.
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)
    # The random parts are not a counter: no two share their 74 random bits.
    assert len({i.int & ((1 << 62) - 1) for i in ids}) == len(ids)


def test_a_forked_worker_does_not_repeat_its_parents_random_bytes() -> None:
    new_decision_id()  # the parent holds a batch with unused bytes
    assert records._random.left()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write, new_decision_id().bytes)
        finally:
            os._exit(0)
    os.close(write)
    try:
        theirs = os.read(read, 16)
    finally:
        os.close(read)
        os.waitpid(child, 0)
    ours = new_decision_id()
    assert len(theirs) == 16
    # Same batch position in both processes; the random parts (after the 48-bit time) differ.
    assert theirs[6:] != ours.bytes[6:]
