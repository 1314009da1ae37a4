"""Deterministic workflow code only: no I/O, no clock, no randomness (docs/architecture.md: the rules
every workflow follows)."""
