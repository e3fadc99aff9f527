"""Country rules as versioned data: the regulation table, then and now, with citations.

Packs are TOML files in rules/packs/, validated with pydantic at load. No I/O beyond
reading those files; nothing here imports aiohttp or asyncpg.
"""
