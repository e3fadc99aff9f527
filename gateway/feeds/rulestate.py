"""The rule book a replica decides with, and how it is swapped without a restart."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import asyncpg

from gateway.settings import Settings
from policy.core_stages import core_stages
from policy.pipeline import Pipeline
from rules.aml_rules import AmlRuleSet, aml_rule_set
from rules.aml_stage import AmlStage
from rules.book import CustomerRules, RuleBook
from rules.kyc_stage import KycStage
from rules.loader import book_from_content, load_rule_book
from rules.stage import CountryRulesStage

log = logging.getLogger(__name__)


def build_pipeline(book: RuleBook, settings: Settings) -> Pipeline:
    stages = [
        *core_stages(),
        CountryRulesStage(book, settings.home_country, settings.licences_held, settings.rules_as_of),
        KycStage(book, settings.home_country, settings.rules_as_of),
        AmlStage(book, settings.home_country, settings.rules_as_of),
    ]
    return Pipeline(stages, book.version)


def load_book(settings: Settings) -> RuleBook:
    """The packs from GATEWAY_RULES_DIR, or those shipped with the product."""
    return load_rule_book(Path(settings.rules_dir) if settings.rules_dir else None)


class RuleState:
    """The running book and its pipeline. Replaced whole, never edited: a request that
    started with one version finishes with it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.book = self.load()
        self.pipeline = build_pipeline(self.book, settings)
        self.aml_rules = self._aml_rules(self.book)

    def load(self) -> RuleBook:
        return load_book(self._settings)

    def _aml_rules(self, book: RuleBook) -> CustomerRules[AmlRuleSet]:
        """The AML rules per jurisdiction and day, built once per book: a money call reads
        its windows and structuring bands before the pipeline runs."""
        return CustomerRules(book, self._settings.home_country, aml_rule_set)

    def switch(self, book: RuleBook) -> None:
        self.book = book
        self.pipeline = build_pipeline(book, self._settings)
        self.aml_rules = self._aml_rules(book)
        log.info("rule pack %s in force", book.version)


async def remember_version(conn: asyncpg.Connection, book: RuleBook) -> None:
    await conn.execute(
        "INSERT INTO rule_pack_versions (version, content) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        book.version,
        book.content,
    )


async def stored_versions(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every rule-pack version ever in force here, newest first: {version, loaded_at}."""
    rows = await conn.fetch("SELECT version, loaded_at FROM rule_pack_versions ORDER BY loaded_at DESC")
    return [dict(r) for r in rows]


async def stored_book(conn: asyncpg.Connection, running: RuleBook, version: str) -> RuleBook | None:
    """The book of a version: the running one as it is, any other as stored when it was in
    force (None: never here). Raises PackError for a stored pack that no longer validates."""
    if version == running.version:
        return running
    content = await conn.fetchval("SELECT content FROM rule_pack_versions WHERE version = $1", version)
    return None if content is None else book_from_content(content)
