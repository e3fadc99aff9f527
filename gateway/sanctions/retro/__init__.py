"""Retro-screening: past deposits and withdrawals screened again when a new sanctions
snapshot lists addresses the one before did not (migration 0012).

- store.py: the scan jobs, their batches of movements and their hits, in SQL.
- screener.py: the worker every replica runs, one replica at a time.
- context.py: the worker inside a running gateway.
"""
