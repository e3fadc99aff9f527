"""The Binance Spot dialect: routes, parameters, errors, signatures, withdraw history."""
