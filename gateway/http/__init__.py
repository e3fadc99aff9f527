"""The HTTP edge: the exchange-dialect handler, middleware, health, the admin API."""
