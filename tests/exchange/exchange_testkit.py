"""Shared constants and helpers for the exchange tests (importable, unlike conftest)."""

from __future__ import annotations

SERVICE_TOKEN = "test-service-token"
GATEWAY_HEADERS = {"X-Gateway-Token": SERVICE_TOKEN}


def customer_headers(customer_id: str) -> dict[str, str]:
    return {**GATEWAY_HEADERS, "X-Customer-Id": customer_id}
