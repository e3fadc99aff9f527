"""Operating the gateway: embedded Postgres, demo data, local state, CLI helpers."""
