"""Loaders and converters that turn real files into PyG graphs; depends on neither ``graphrep.nn`` nor ``models``."""
