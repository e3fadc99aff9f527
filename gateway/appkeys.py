"""Typed keys for what the app holds (aiohttp's web.AppKey), in one place."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp import web

from gateway.audit.events import EventLog
from gateway.binance.auth import KeyDirectory
from gateway.decide.service import Decider
from gateway.feeds.capital import CoinNetworks
from gateway.feeds.markets import MarketList
from gateway.feeds.prices import PriceFeed
from gateway.feeds.rulestate import RuleState
from gateway.feeds.upstream import Upstream
from gateway.metrics import GatewayMetrics
from gateway.review.forwarder import ReviewService
from gateway.roles import AdminTokens
from gateway.sanctions.retro.screener import RetroScreener
from gateway.sanctions.service import SanctionsList
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.store.audit_reads import AuditReads
from gateway.store.writer import DecisionWriter

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", GatewayMetrics)
POOL = web.AppKey("pool", asyncpg.Pool)
WRITER = web.AppKey("writer", DecisionWriter)
KEYS = web.AppKey("keys", KeyDirectory)
UPSTREAM = web.AppKey("upstream", Upstream)
MARKETS = web.AppKey("markets", MarketList)
NETWORKS = web.AppKey("networks", CoinNetworks)  # the coins' withdrawal networks
PRICES = web.AppKey("prices", PriceFeed)
RULES = web.AppKey("rules", RuleState)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
FACTS_BOX = web.AppKey("facts_box", SecretBox)  # personal inputs in decisions' facts
ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)
# The audit trail: this process's event chain, and the slots bounding long audit reads
# (exports, verification), which use connections of their own, not the pool's.
AUDIT_EVENTS = web.AppKey("audit_events", EventLog)
AUDIT_READ_SLOTS = web.AppKey("audit_read_slots", asyncio.Semaphore)
# Short audit reads (searches, detail): the read replica's pool, or the primary's.
AUDIT_READS = web.AppKey("audit_reads", AuditReads)
# The sanctioned-address list in force on this replica (gateway/sanctions/service.py).
SANCTIONS = web.AppKey("sanctions", SanctionsList)
# The hold-and-review queue: approvals, forwarding exactly once, the sweep.
REVIEW = web.AppKey("review", ReviewService)
# The sanctions retro-screening worker (gateway/sanctions/retro/screener.py).
RETRO = web.AppKey("sanctions_retro", RetroScreener)
# Every decided call's one path (gateway/decide/service.py).
DECIDER = web.AppKey("decider", Decider)
