"""The glassnet exception family: every expected failure is a ``GlassnetError``.

Messages say what was expected, what was received, and what to do. The CLI
prints them in one or two lines without a traceback.
"""


class GlassnetError(Exception):
    """Base class of every error glassnet raises on purpose."""


class DatasetError(GlassnetError):
    """A data set is missing, incomplete, inconsistent or failed verification."""


class IdxFormatError(DatasetError):
    """A file is not a valid IDX file (bad magic, type, rank, size or compression)."""


class CheckpointError(GlassnetError):
    """A checkpoint or model file cannot be read, written or trusted."""


class ConfigError(GlassnetError, ValueError):
    """A training configuration value is out of range or of the wrong type."""


class DivergenceError(GlassnetError):
    """Training produced a non-finite loss; the message names epoch, step and lr."""
