"""Sanctioned-address lists at run time: snapshots stored in Postgres, the one in force
held in memory on every replica, and refreshed when another process switches it.

- Loading (`load_snapshot`, from the CLI, the admin API or the start-up bootstrap) stores
  a snapshot and points `sanctions_current` at it, under an advisory lock, in the same
  transaction as its audit event. A snapshot whose content hash is the current one's
  changes nothing and says so. Every entry has been checked against its network
  (gateway/sanctions/sources.py): one that fails refuses the load unless the caller
  accepts a partial list, whose rejected entries are then stored with it. A switch that
  would delist more than GATEWAY_SANCTIONS_MAX_DELIST_RATIO of the addresses in force
  (a truncated download looks exactly like that) is refused unless confirmed.
- `SanctionsList` holds the snapshot in force on this replica. It polls the pointer every
  GATEWAY_SANCTIONS_REFRESH_SECONDS and swaps in a new snapshot whole, so a request
  screens against one list from start to end. When a refresh fails it keeps the last good
  list (counted); when it has never had one, `current` raises `SanctionsUnavailable`:
  money must not move unscreened, so the caller answers 503.

Parsing and matching are aml.sanctions'; sources are read by gateway/sanctions/sources.py.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from aml.sanctions import AddressList, Match
from gateway.audit.events import EventKind, EventLog
from gateway.feeds.markets import utcnow
from gateway.feeds.periodic import Periodic
from gateway.metrics import GatewayMetrics
from gateway.sanctions.sources import CheckedSnapshot, SnapshotError, read_source, snapshot_identity
from gateway.store import sanctions as store
from gateway.store.db import UNAVAILABLE_ERRORS
from gateway.store.sanctions import SnapshotInfo

log = logging.getLogger(__name__)

BOOTSTRAP_ACTOR = "system:bootstrap"
# The settings' default (GATEWAY_SANCTIONS_MAX_DELIST_RATIO), for callers without settings.
DEFAULT_MAX_DELIST_RATIO = 0.1
_REFRESH_ERRORS: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError, ValueError)


class SanctionsUnavailable(Exception):
    """No sanctions list is loaded on this replica, so an address cannot be screened."""


class SnapshotIntegrityError(ValueError):
    """A stored snapshot's rows no longer hash to its id: altered after it was loaded."""


class DelistingRefused(Exception):
    """The switch would delist more of the list in force than allowed, unconfirmed; nothing
    was stored or switched."""

    def __init__(self, in_force: int, would_delist: int, limit: float) -> None:
        self.counts = {
            "in_force": in_force,
            "would_delist": would_delist,
            "ratio": round(would_delist / in_force, 4),
            "limit": limit,
        }
        super().__init__(
            f"This switch would delist {would_delist} of the {in_force} addresses in force "
            f"(more than {limit:.0%}); nothing was changed. Check the source is complete, "
            "then load it again with confirm_delisting."
        )


class LoadOutcome(enum.StrEnum):
    LOADED = "loaded"  # new content, stored and switched to
    REACTIVATED = "reactivated"  # content loaded before, switched back to
    UNCHANGED = "unchanged"  # the content in force already: nothing changed


@dataclass(frozen=True, slots=True)
class LoadResult:
    snapshot: SnapshotInfo
    outcome: LoadOutcome
    previous_id: str | None
    added: int  # distinct addresses listed now and not in the previous snapshot
    delisted: int  # listed in the previous snapshot and not now
    # What the source held and what was made of it (CheckedSnapshot.summary): counts per
    # network, rejected, exact-match only, case-folded, and notes an operator must read.
    summary: dict[str, Any] = field(default_factory=dict)
    delisting_confirmed: bool = False  # the delisting guard was overridden for this load

    @property
    def changed(self) -> bool:
        return self.outcome is not LoadOutcome.UNCHANGED

    @property
    def snapshot_id(self) -> str:
        """The snapshot now current; with `previous_id`, what a retro-screen compares."""
        return self.snapshot.id

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "changed": self.changed,
            "previous_id": self.previous_id,
            "added": self.added,
            "delisted": self.delisted,
            "rejected": self.snapshot.rejected_count,
            "delisting_confirmed": self.delisting_confirmed,
            "summary": self.summary,
            "snapshot": self.snapshot.as_json(),
        }


@dataclass(frozen=True, slots=True)
class SanctionsSnapshot:
    """The list in force on this replica; replaced whole, never edited."""

    snapshot_id: str  # == address_list.id; what a decision records
    list_name: str
    as_of: date
    loaded_at: datetime
    loaded_by: str
    address_list: AddressList

    @property
    def address_count(self) -> int:
        return len(self.address_list)

    def match(self, address: str, network_or_asset: str | None = None) -> Match | None:
        """None when not listed; `aml.sanctions.MalformedAddress` when it cannot be screened."""
        return self.address_list.is_listed(address, network_or_asset)


def packaged_dir() -> Path:
    return Path(str(resources.files("aml") / "data" / "sanctions"))


@functools.cache
def packaged_snapshot() -> CheckedSnapshot:
    """aml/data/sanctions, read and checked once per process. Its manifest names the one
    entry OFAC publishes that is not an address (see SOURCE.md there): it is recorded as
    rejected, any other problem refuses the bootstrap."""
    return read_source(packaged_dir())


@dataclass(frozen=True, slots=True)
class LoadOptions:
    accept_partial: bool = False  # store the valid entries, record the rejected ones
    confirm_delisting: bool = False  # switch even past the delisting guard
    max_delist_ratio: float = DEFAULT_MAX_DELIST_RATIO


async def load_snapshot(
    conn: asyncpg.Connection,
    source: Path | CheckedSnapshot,
    actor: str,
    *,
    events: EventLog | None = None,
    options: LoadOptions = LoadOptions(),
) -> LoadResult:
    """Store `source` (a path read by `read_source`, or a checked snapshot) and make it current.

    `SnapshotError` when the source is not a valid snapshot or has invalid entries not
    accepted; `DelistingRefused` past the guard. Either way nothing is stored."""
    snapshot = source if isinstance(source, CheckedSnapshot) else read_source(source)
    result = await _store(conn, snapshot, actor, events or EventLog(), options, only_if_empty=False)
    assert result is not None
    return result


async def bootstrap(
    conn: asyncpg.Connection, snapshot: CheckedSnapshot, events: EventLog
) -> LoadResult | None:
    """Load `snapshot` as BOOTSTRAP_ACTOR if no snapshot is current yet, else nothing.
    Replicas starting together on an empty database load it once: the lock decides. Only
    the problems its manifest declares are accepted."""
    return await _store(conn, snapshot, BOOTSTRAP_ACTOR, events, LoadOptions(), only_if_empty=True)


async def _store(
    conn: asyncpg.Connection,
    snapshot: CheckedSnapshot,
    actor: str,
    events: EventLog,
    options: LoadOptions,
    *,
    only_if_empty: bool,
) -> LoadResult | None:
    refusal = snapshot.refusal(accept_partial=options.accept_partial)
    if refusal is not None:
        raise refusal
    async with events.transaction(conn) as appender:
        await store.lock(conn)
        previous = await store.current_id(conn)
        if only_if_empty and previous is not None:
            return None
        now = utcnow()
        added, delisted = 0, 0
        if previous == snapshot.id:
            outcome = LoadOutcome.UNCHANGED
        else:
            outcome = LoadOutcome.REACTIVATED
            if await store.get_snapshot(conn, snapshot.id) is None:
                await store.insert_snapshot(conn, snapshot.addresses, now, actor, snapshot.rejected)
                outcome = LoadOutcome.LOADED
            await store.set_current(conn, snapshot.id, now, actor)
            if previous is None:
                added = len(snapshot.addresses)
            else:
                added, delisted = await store.difference(conn, previous, snapshot.id)
                await _guard_delisting(conn, previous, delisted, options)  # raises: all rolled back
        info = await store.get_snapshot(conn, snapshot.id)
        assert info is not None
        confirmed = options.confirm_delisting and delisted > 0
        result = LoadResult(info, outcome, previous, added, delisted, snapshot.summary(), confirmed)
        details = {k: v for k, v in result.as_json().items() if k not in {"snapshot", "summary"}}
        details.update(list=info.list_name, as_of=info.as_of.isoformat(), address_count=info.address_count)
        details.update(accept_partial=options.accept_partial, case_folded=snapshot.check.case_folded)
        details.update(exact_only=snapshot.check.exact_only)
        source = snapshot.addresses
        if (source.source, source.as_of) != (info.list_name, info.as_of):
            # Same content under another name or date: the stored snapshot keeps its own.
            details["requested"] = {"list": source.source, "as_of": source.as_of.isoformat()}
        await appender.append(
            EventKind.LIST_SNAPSHOT_LOADED, actor,
            subject_type="sanctions_snapshot", subject_id=snapshot.id, details=details,
        )  # fmt: skip
    return result


async def _guard_delisting(
    conn: asyncpg.Connection, previous: str, delisted: int, options: LoadOptions
) -> None:
    """A switch that would unscreen more than the allowed share of the list in force is
    what a truncated or emptied download looks like: refused unless confirmed. Reactivating
    an older snapshot passes the same guard."""
    if options.confirm_delisting or delisted == 0:
        return
    in_force = await store.get_snapshot(conn, previous)
    assert in_force is not None
    if delisted / in_force.address_count > options.max_delist_ratio:
        raise DelistingRefused(in_force.address_count, delisted, options.max_delist_ratio)


async def read_snapshot(conn: asyncpg.Connection, snapshot_id: str) -> SanctionsSnapshot:
    info = await store.get_snapshot(conn, snapshot_id)
    if info is None:
        raise SnapshotIntegrityError(f"no sanctions snapshot {snapshot_id}")
    lists = await store.entries(conn, snapshot_id)
    rejected = await store.rejections(conn, snapshot_id)
    stored = AddressList.from_lists(lists, source=info.list_name, as_of=info.as_of)
    rehashed = snapshot_identity(stored, ((r.network, r.address) for r in rejected))
    if rehashed != snapshot_id:
        raise SnapshotIntegrityError(f"sanctions snapshot {snapshot_id} hashes to {rehashed}")
    address_list = replace(stored, id=rehashed)
    return SanctionsSnapshot(
        snapshot_id, info.list_name, info.as_of, info.loaded_at, info.loaded_by, address_list
    )


class SanctionsList:
    """The sanctions list in force on this replica (`app[K.SANCTIONS]`)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: GatewayMetrics,
        events: EventLog,
        *,
        every: float,
        timeout: float,
        bootstrap_source: Callable[[], CheckedSnapshot] | None = packaged_snapshot,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._events = events
        self._timeout = timeout
        self._bootstrap_source = bootstrap_source
        self._snapshot: SanctionsSnapshot | None = None
        self._periodic = Periodic("sanctions-refresh", every, self.refresh)
        # One refresh at a time: a background refresh that read the old pointer must not
        # finish after an admin load's refresh and switch this replica back.
        self._refreshing = asyncio.Lock()
        metrics.sanctions_addresses.set(0)

    @property
    def current(self) -> SanctionsSnapshot:
        """The snapshot to screen with, or `SanctionsUnavailable` (answer 503, never allow)."""
        snapshot = self._snapshot
        if snapshot is None:
            raise SanctionsUnavailable("no sanctions list is loaded: addresses cannot be screened")
        return snapshot

    def match(self, address: str, network_or_asset: str | None = None) -> Match | None:
        """`current.match(...)`: None when not listed; raises `SanctionsUnavailable` or
        `aml.sanctions.MalformedAddress` when the address cannot be screened."""
        return self.current.match(address, network_or_asset)

    def is_listed(self, address: str, network_or_asset: str | None = None) -> bool:
        return self.match(address, network_or_asset) is not None

    async def refresh(self) -> bool:
        """Load the current snapshot if it is not the one held (bootstrapping an empty
        database first). False, counted, when it could not; the last good list stays."""
        try:
            async with self._refreshing:
                snapshot = await self._fetch()
                if snapshot is not None and snapshot is not self._snapshot:
                    self._switch(snapshot)
        except _REFRESH_ERRORS as exc:
            log.warning("sanctions list not refreshed; keeping %s: %r", self._held(), exc)
            self._metrics.sanctions_refresh_failures.inc()
            return False
        except Exception:  # a bug must not stop the refresher (or the start) for good
            log.exception("sanctions list not refreshed; keeping %s", self._held())
            self._metrics.sanctions_refresh_failures.inc()
            return False
        if snapshot is None:
            log.warning("no sanctions snapshot is current in the database")
            self._metrics.sanctions_refresh_failures.inc()
            return False
        return True

    async def _fetch(self) -> SanctionsSnapshot | None:
        async with self._pool.acquire(timeout=self._timeout) as conn:
            current = await store.current_id(conn)
            if current is None and self._bootstrap_source is not None:
                if await bootstrap(conn, self._bootstrap_source(), self._events) is not None:
                    log.info("empty sanctions store: loaded the packaged snapshot")
                current = await store.current_id(conn)
            if current is None:
                return None
            held = self._snapshot
            if held is not None and held.snapshot_id == current:
                return held
            return await read_snapshot(conn, current)

    def _held(self) -> str:
        return self._snapshot.snapshot_id if self._snapshot else "no list"

    def _switch(self, snapshot: SanctionsSnapshot) -> None:
        previous = self._held()
        self._snapshot = snapshot
        metrics = self._metrics
        metrics.sanctions_addresses.set(snapshot.address_count)
        metrics.sanctions_as_of.set(datetime.combine(snapshot.as_of, time(), UTC).timestamp())
        metrics.sanctions_loaded_at.set(snapshot.loaded_at.timestamp())
        log.info(
            "sanctions list %s in force (%d addresses, as of %s; was %s)",
            snapshot.snapshot_id, snapshot.address_count, snapshot.as_of, previous,
        )  # fmt: skip

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


__all__ = [
    "BOOTSTRAP_ACTOR",
    "DelistingRefused",
    "LoadOptions",
    "LoadOutcome",
    "LoadResult",
    "SanctionsList",
    "SanctionsSnapshot",
    "SanctionsUnavailable",
    "SnapshotError",
    "SnapshotInfo",
    "load_snapshot",
    "read_source",
]
