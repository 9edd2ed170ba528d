"""Errors raised for bad user input, so the CLI can print them as one line.

Everything a user can fix (a missing file, a malformed record, a bad option, a checkpoint of another run) raises
:class:`UserInputError` or one of its subclasses; the CLI prints those as ``graphrep: error: ...`` with exit status 2.
Any other exception is a bug in graphrep and is reported as such (exit status 1).
"""


class GraphrepError(Exception):
    """Base class for errors caused by input the user can fix (a missing file, a malformed record, a bad option)."""


class UserInputError(GraphrepError):
    """Bad user input: an argument, a file or a record; the message names it (file:line, argument or item)."""


class DataNotFoundError(UserInputError, FileNotFoundError):
    """A dataset file was not found anywhere graphrep looks; the message lists where it looked and where to get it."""


class ChecksumError(UserInputError):
    """A file's content does not match the checksum on its dataset card."""


class InvalidInputError(UserInputError, ValueError):
    """A record (a SMILES string, a CSV line, a graph) cannot be used; the message names it."""


class CheckpointError(UserInputError):
    """A checkpoint cannot be read safely, or belongs to another run than the one it should continue."""


class TrainingDivergedError(UserInputError):
    """The training loss became NaN or infinite (too high a learning rate, or NaN/inf in the inputs)."""
