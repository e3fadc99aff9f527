"""Exchange dialect adapters: an exchange's wire format in, exchange-neutral Actions out."""
