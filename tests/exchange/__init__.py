"""Tests of the mock exchange (exchange/)."""
