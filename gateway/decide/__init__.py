"""Deciding a call: gathering its facts, the money-call transaction, replay."""
