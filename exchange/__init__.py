"""A mock crypto exchange speaking Binance's spot REST dialect, trusting only the gateway.

Entry points: `exchange.app.create_exchange_app(ExchangeSettings(...))` and
`python -m exchange --service-token TOKEN`. See exchange/README.md.
"""
