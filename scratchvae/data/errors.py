"""The one exception type for data-file problems."""


class DataError(ValueError):
    """A data file is missing, truncated, malformed or fails its checksum.

    The message always names the file (and, for a missing file, the directory to put it in).
    It subclasses ``ValueError`` so ``except ValueError`` also catches it.
    """
