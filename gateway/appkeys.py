"""Typed keys for what the app holds (aiohttp's web.AppKey), in one place."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from gateway.admin.tokens import AdminTokens
from gateway.auth import KeyDirectory
from gateway.markets import MarketList
from gateway.metrics import GatewayMetrics
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.upstream import Upstream
from gateway.writer import DecisionWriter
from policy.pipeline import Pipeline

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", GatewayMetrics)
POOL = web.AppKey("pool", asyncpg.Pool)
WRITER = web.AppKey("writer", DecisionWriter)
KEYS = web.AppKey("keys", KeyDirectory)
UPSTREAM = web.AppKey("upstream", Upstream)
MARKETS = web.AppKey("markets", MarketList)
PIPELINE = web.AppKey("pipeline", Pipeline)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)
