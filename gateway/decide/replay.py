"""Replay: decide the logged decisions of a time range again under another rule-pack
version, and say which outcomes would change and why. Nothing is written: the walk runs
in one READ ONLY, repeatable-read transaction and streams the rows through a server-side
cursor (constant memory), at most GATEWAY_REPLAY_MAX_DECISIONS of them.

Each decision is rebuilt from its row: the Action from its columns plus the document's
other fields, the Facts from the document (gateway/decide/facts_codec.py). A decision without
facts (logged before migration 0006, or a call too malformed to gather any), whose
document this code cannot read, or whose personal inputs cannot be unsealed with the
installation's key (stored masked only), is counted as not replayable (by reason), never
guessed. The pipeline
is the one the running gateway would build for that version with the running settings
(home country, licences held, GATEWAY_RULES_AS_OF); a pinned as-of date applies to the
replay as it does to live traffic.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.decide import facts_codec
from gateway.decide.facts_codec import FactsUnreadable, PersonalSeal, facts_box
from gateway.feeds.rulestate import build_pipeline
from gateway.ops import progress
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.store import db
from policy.decision import Verdict
from policy.pipeline import Pipeline
from rules.loader import book_from_content

_PREFETCH = 500
NO_FACTS = "no_facts"
MASKED_INPUTS = "personal_data_masked"

_COLUMNS = (
    "id, decided_at, operation, action_kind, customer_id, symbol, base_asset, quote_asset, asset, side, "
    "order_type, quantity, price, address, network, client_order_id, outcome, reasons, rule_ids, "
    "findings::text AS findings, rule_pack_version, facts::text AS facts"
)


class UnknownVersion(Exception):
    """No rule-pack version of that name was ever in force here."""


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: what the log says, or what the replay decided."""

    outcome: str
    reasons: list[str]
    rule_ids: list[str]
    message: str | None  # the finding that set the outcome, in words

    @property
    def grounds(self) -> tuple[str, list[str], list[str]]:
        """What is compared: the message is words around the reasons, not a ground."""
        return self.outcome, self.reasons, self.rule_ids

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "reasons": self.reasons, "rule_ids": self.rule_ids,
            "message": self.message,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    decision_id: uuid.UUID
    decided_at: datetime
    action_kind: str
    operation: str
    logged_version: str
    logged: Side
    replayed: Side

    def as_json(self) -> dict[str, Any]:
        return {
            "decision_id": str(self.decision_id), "decided_at": self.decided_at,
            "action_kind": self.action_kind, "operation": self.operation,
            "logged_version": self.logged_version,
            "from": self.logged.as_json(), "to": self.replayed.as_json(),
        }  # fmt: skip


@dataclass
class ReplayReport:
    version: str
    since: datetime
    until: datetime
    customer_id: uuid.UUID | None
    limit: int  # most changes listed per list; the counts cover every decision examined
    examined: int = 0
    replayed: int = 0
    truncated: bool = False  # the range held more decisions than the maximum examined
    not_replayable: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    logged_versions: Counter[str] = field(default_factory=Counter)
    # Top-level Facts fields the stored documents lacked (added after they were written).
    defaulted_fields: Counter[str] = field(default_factory=Counter)
    changed: list[Change] = field(default_factory=list)  # the outcome differs
    changed_total: int = 0
    # Same outcome, other reasons or rule ids: the decision stands, on other grounds.
    reasons_changed: list[Change] = field(default_factory=list)
    reasons_changed_total: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "since": self.since, "until": self.until,
            "customer_id": str(self.customer_id) if self.customer_id else None,
            "examined": self.examined, "replayed": self.replayed, "truncated": self.truncated,
            "not_replayable": dict(sorted(self.not_replayable.items())),
            "transitions": [
                {"from": old, "to": new, "count": n} for (old, new), n in sorted(self.transitions.items())
            ],
            "logged_versions": dict(sorted(self.logged_versions.items())),
            "defaulted_fields": dict(sorted(self.defaulted_fields.items())),
            "changed_total": self.changed_total, "changed": [c.as_json() for c in self.changed],
            "reasons_changed_total": self.reasons_changed_total,
            "reasons_changed": [c.as_json() for c in self.reasons_changed],
        }  # fmt: skip


async def load_pipeline(conn: asyncpg.Connection, version: str, settings: Settings) -> Pipeline:
    # As text: the same on a pool connection (jsonb codec) and a plain one.
    content = await conn.fetchval("SELECT content::text FROM rule_pack_versions WHERE version = $1", version)
    if content is None:
        raise UnknownVersion(version)
    return build_pipeline(book_from_content(orjson.loads(content)), settings)


def _logged(row: asyncpg.Record) -> Side:
    findings = orjson.loads(row["findings"])
    message = next((f.get("message") for f in findings if f.get("outcome") == row["outcome"]), None)
    return Side(row["outcome"], list(row["reasons"]), list(row["rule_ids"]), message)


def _replayed(verdict: Verdict) -> Side:
    primary = verdict.primary
    rule_ids = list(dict.fromkeys(f.rule_id for f in verdict.findings))
    return Side(verdict.outcome.value, verdict.reasons, rule_ids, primary.message if primary else None)


def _compare(report: ReplayReport, row: asyncpg.Record, pipeline: Pipeline, box: SecretBox | None) -> None:
    if row["facts"] is None:
        report.not_replayable[NO_FACTS] += 1
        return
    personal = PersonalSeal(box, row["id"]) if box is not None else None
    try:
        stored = facts_codec.decode(row["facts"], personal)
        action = facts_codec.action_from_row(row, stored.action_extra)
    except FactsUnreadable as exc:
        report.not_replayable[exc.reason] += 1
        return
    if stored.masked:
        report.not_replayable[MASKED_INPUTS] += 1
        return
    report.defaulted_fields.update(stored.defaulted)
    logged, replayed = _logged(row), _replayed(pipeline.decide(action, stored.facts))
    report.replayed += 1
    report.logged_versions[row["rule_pack_version"]] += 1
    report.transitions[(logged.outcome, replayed.outcome)] += 1
    if logged.grounds == replayed.grounds:
        return
    change = Change(
        row["id"], row["decided_at"], row["action_kind"], row["operation"], row["rule_pack_version"],
        logged, replayed,
    )  # fmt: skip
    if logged.outcome != replayed.outcome:
        report.changed_total += 1
        if len(report.changed) < report.limit:
            report.changed.append(change)
    else:
        report.reasons_changed_total += 1
        if len(report.reasons_changed) < report.limit:
            report.reasons_changed.append(change)


async def replay(
    conn: asyncpg.Connection,
    version: str,
    since: datetime,
    until: datetime,
    *,
    settings: Settings,
    customer_id: uuid.UUID | None = None,
    limit: int = 100,
    max_decisions: int | None = None,
) -> ReplayReport:
    """Decisions with since <= decided_at < until, oldest first. Raises UnknownVersion."""
    if since >= until:
        raise ValueError("until must be later than since")
    most = max_decisions if max_decisions is not None else settings.replay_max_decisions
    report = ReplayReport(version, since, until, customer_id, limit)
    where = "decided_at >= $1 AND decided_at < $2"
    args: list[Any] = [since, until]
    if customer_id is not None:
        where += " AND customer_id = $3"
        args.append(customer_id)
    sql = f"SELECT {_COLUMNS} FROM decisions WHERE {where} ORDER BY decided_at, id LIMIT {most + 1}"
    key = settings.secret_key.get_secret_value()
    box = facts_box(key) if key else None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        pipeline = await load_pipeline(conn, version, settings)
        async for row in conn.cursor(sql, *args, prefetch=_PREFETCH):
            if report.examined == most:
                report.truncated = True
                break
            report.examined += 1
            progress.advance()
            _compare(report, row, pipeline, box)
    return report


def add_parser(sub: Any) -> None:
    """`python -m gateway rules replay --version V --since T --until T`."""
    rules = sub.add_parser("rules", help="rule packs: replay logged decisions under a version")
    commands = rules.add_subparsers(dest="rules_command", required=True)
    again = commands.add_parser("replay", help="decide a range of logged decisions again; print the report")
    again.add_argument("--version", required=True, help="a rule-pack version, e.g. sha256:0123456789abcdef")
    for name, help_text in (("--since", "from (ISO 8601, with offset)"), ("--until", "before (ISO 8601)")):
        again.add_argument(name, type=datetime.fromisoformat, required=True, help=help_text)
    again.add_argument("--customer-id", type=uuid.UUID, default=None, help="only this customer's decisions")
    again.add_argument("--limit", type=int, default=100, help="most changed decisions listed")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the report as JSON; exit 2 for an unknown version or a bad range."""
    if args.since.tzinfo is None or args.until.tzinfo is None or args.since >= args.until:
        sys.stderr.write("--since and --until need UTC offsets, and until must be later than since\n")
        return 2
    conn = await db.connect(settings.require_database_url())
    try:
        with progress.Progress("replaying decisions", "decisions"):
            report = await replay(
                conn, args.version, args.since, args.until, settings=settings,
                customer_id=args.customer_id, limit=args.limit,
            )  # fmt: skip
    except UnknownVersion:
        sys.stderr.write(f"no rule pack version {args.version!r}\n")
        return 2
    finally:
        await conn.close()
    sys.stdout.write(orjson.dumps(report.as_json(), default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
