"""Repositories: SQL in, domain values out. SQLSTATE errors become domain errors here."""
