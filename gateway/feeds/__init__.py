"""What the gateway keeps fresh in the background: markets, prices, rule packs, the upstream client."""
