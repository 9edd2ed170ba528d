"""Loaders, converters and batched graph transforms."""
