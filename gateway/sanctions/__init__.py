"""Sanctions lists: loading, the list in force, screening sources and retro-screening."""
