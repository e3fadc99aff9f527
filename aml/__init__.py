"""AML domain core: money and conversion, sanctions screening, IVMS101 travel-rule data,
rolling windows, structuring and single-movement thresholds.

Pure code (STYLE point 1): no aiohttp, no asyncpg, no I/O but reading the packaged data in
aml/data/ at load. The gateway gathers the facts (prices, FX, past movements, the KYC
name) and calls these functions, which return policy Findings (stage "aml") directly.
"""
