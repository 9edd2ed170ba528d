"""Losses as pure functions or small modules."""

from .supervised import masked_bce, masked_mse

__all__ = ["masked_bce", "masked_mse"]
