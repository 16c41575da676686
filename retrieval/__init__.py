"""Cited answers from a folder of Chinese documents.

    from retrieval import Retriever
    answer = Retriever().ask("阿里巴巴花了多少钱入股新浪微博?")
"""

from retrieval.errors import CatalogError, CorpusError, IndexFileError, QuestionError, RetrievalError
from retrieval.loading import Skipped
from retrieval.results import Answer, Citation, Hit, Outcome
from retrieval.retriever import Context, DocumentInfo, Retriever

__all__ = [
    "Answer",
    "CatalogError",
    "Citation",
    "Context",
    "CorpusError",
    "DocumentInfo",
    "Hit",
    "IndexFileError",
    "Outcome",
    "QuestionError",
    "RetrievalError",
    "Retriever",
    "Skipped",
]
