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


class QuestionError(RetrievalError):
    """The question cannot be searched as given (too long, not text)."""


class IndexVersionError(IndexFileError):
    """A saved index was built by other code (format, analyzer or parameters)."""


class IndexRankingError(IndexVersionError):
    """A saved index was built for another ranking mode (issue 14)."""


class BackendError(RetrievalError):
    """The OpenSearch cluster could not be reached, refused us, or failed (issue 14)."""
