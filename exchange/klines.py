"""Candles (`/api/v3/klines`) aggregated from the public trade tape, as Binance draws them.

Every interval from the first one the tape fully covers (the exchange's start, or the one
after the newest forgotten trade) up to the current, still open one is a candle; an
interval without trades opens, closes, peaks and bottoms at the last price before it, with
zero volume. Intervals are UTC: fixed lengths from the Unix epoch, weeks from Monday,
months by the calendar. Pure: the tape and the time come in, candles go out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from exchange.orders import ZERO
from exchange.tape import PublicTrade, TradeTape

_SECOND: Final = 1000
_MINUTE: Final = 60 * _SECOND
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
MONTH: Final = "1M"
# Binance's spot intervals (case-sensitive); 1M has no fixed length.
FIXED_INTERVALS: Final = {
    "1s": _SECOND, "1m": _MINUTE, "3m": 3 * _MINUTE, "5m": 5 * _MINUTE, "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE, "1h": _HOUR, "2h": 2 * _HOUR, "4h": 4 * _HOUR, "6h": 6 * _HOUR,
    "8h": 8 * _HOUR, "12h": 12 * _HOUR, "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY,
}  # fmt: skip
INTERVALS: Final = frozenset({*FIXED_INTERVALS, MONTH})
# The epoch fell on a Thursday; Binance's weeks open on Monday 00:00 UTC (1970-01-05).
_WEEK_OFFSET: Final = 4 * _DAY


@dataclass(frozen=True, slots=True)
class Candle:
    open_ms: int
    close_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    count: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal


def _month_index(ms: int) -> int:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.year * 12 + moment.month - 1


def _month_open(index: int) -> int:
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)


def bucket_open(interval: str, ms: int) -> int:
    """Open time of the interval that holds `ms`."""
    if interval == MONTH:
        return _month_open(_month_index(ms))
    length = FIXED_INTERVALS[interval]
    offset = _WEEK_OFFSET if interval == "1w" else 0
    return (ms - offset) // length * length + offset


def step(interval: str, open_ms: int, by: int) -> int:
    """Open time `by` intervals after (or before, if negative) the one opening at `open_ms`."""
    if interval == MONTH:
        return _month_open(_month_index(open_ms) + by)
    return open_ms + by * FIXED_INTERVALS[interval]


def _opens(interval: str, first: int, last: int, start: int | None, limit: int) -> list[int]:
    """At most `limit` open times in [first, last]: from `start` on, or else the newest."""
    out: list[int] = []
    if start is not None:
        aligned = bucket_open(interval, start)
        current = max(first, aligned if aligned == start else step(interval, aligned, 1))
        while current <= last and len(out) < limit:
            out.append(current)
            current = step(interval, current, 1)
        return out
    current = last
    while current >= first and len(out) < limit:
        out.append(current)
        current = step(interval, current, -1)
    out.reverse()
    return out


def klines(
    tape: TradeTape, interval: str, *, start: int | None, end: int | None, limit: int, now: int
) -> list[Candle]:
    """Candles opening at or after `start` and at or before `end` (Binance's reading)."""
    first = (
        bucket_open(interval, tape.opened_ms)
        if tape.forgotten is None
        else step(interval, bucket_open(interval, tape.forgotten.time_ms), 1)
    )
    upto = now if end is None else min(end, now)
    if (start is not None and start > upto) or upto < first:
        return []
    opens = _opens(interval, first, bucket_open(interval, upto), start, limit)
    if not opens:
        return []
    window_end = step(interval, opens[-1], 1)
    by_open: dict[int, list[PublicTrade]] = {}
    for trade in tape:
        if opens[0] <= trade.time_ms < window_end:
            by_open.setdefault(bucket_open(interval, trade.time_ms), []).append(trade)
    return list(_candles(interval, opens, by_open, tape.price_before(opens[0])))


def _candles(
    interval: str, opens: list[int], by_open: dict[int, list[PublicTrade]], prior: Decimal
) -> Iterator[Candle]:
    for open_ms in opens:
        trades = by_open.get(open_ms, [])
        close_ms = step(interval, open_ms, 1) - 1
        if not trades:
            yield Candle(open_ms, close_ms, prior, prior, prior, prior, ZERO, ZERO, 0, ZERO, ZERO)
            continue
        prices = [t.price for t in trades]
        taker_buys = [t for t in trades if not t.buyer_is_maker]
        yield Candle(
            open_ms, close_ms, prices[0], max(prices), min(prices), prices[-1],
            sum((t.qty for t in trades), ZERO), sum((t.quote_qty for t in trades), ZERO), len(trades),
            sum((t.qty for t in taker_buys), ZERO), sum((t.quote_qty for t in taker_buys), ZERO),
        )  # fmt: skip
        prior = prices[-1]
