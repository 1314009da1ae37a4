"""Deterministic workflow code only: no I/O, no clock, no randomness (see DESIGN.md)."""
