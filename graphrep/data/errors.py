"""Errors raised for bad user input, so the CLI can print them as one line."""


class GraphrepError(Exception):
    """Base class for errors caused by input the user can fix (a missing file, a malformed record, a bad option)."""


class DataNotFoundError(GraphrepError, FileNotFoundError):
    """A dataset file was not found anywhere graphrep looks; the message lists where it looked and where to get it."""


class ChecksumError(GraphrepError):
    """A file's content does not match the checksum on its dataset card."""


class InvalidInputError(GraphrepError, ValueError):
    """A record (a SMILES string, a CSV line, a graph) cannot be used; the message names it."""
