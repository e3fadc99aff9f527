"""The hold-and-review queue and report candidates (see README, "Holds and reports")."""
