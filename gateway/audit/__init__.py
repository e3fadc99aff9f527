"""The audit trail: hash-chained append-only log, verification, checkpoints, retention,
partitions and the masking of personal data (issue 6)."""
