"""Losses as pure functions or small modules."""
