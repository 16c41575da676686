"""The errors callers can handle: all are RetrievalError."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base of every error this package raises on purpose."""


class CorpusError(RetrievalError):
    """The document folder is missing, empty, or holds nothing readable."""


class CatalogError(CorpusError):
    """The catalog file beside the documents cannot be read."""


class IndexFileError(RetrievalError):
    """A saved index is damaged or was built by another version."""


class IndexLocationError(RetrievalError):
    """The folder given for a saved index holds other files, or is not a folder: nothing was touched."""


class ParameterError(RetrievalError, ValueError):
    """An argument is out of range (k, ranking mode, ...)."""


class QuestionError(RetrievalError):
    """The question cannot be searched as given (too long, not text)."""


class IndexVersionError(IndexFileError):
    """A saved index was built by other code (format, analyzer or parameters)."""


class IndexRankingError(IndexVersionError):
    """A saved index was built for another ranking mode (issue 14)."""


class BackendError(RetrievalError):
    """The OpenSearch cluster could not be reached, refused us, or failed (issue 14)."""
