"""Exchange-neutral policy core: actions, findings, outcomes and the stage pipeline.

Nothing here does I/O or knows about HTTP or Postgres (STYLE point 1): the gateway
gathers facts, the pipeline compares, the gateway records and enforces.
"""
