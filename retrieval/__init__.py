"""Cited answers from a folder of Chinese documents.

    from retrieval import Retriever
    answer = Retriever().ask("阿里巴巴花了多少钱入股新浪微博?")
"""

from retrieval.conversation import Conversation, FollowUp
from retrieval.errors import (
    BackendError,
    CatalogError,
    CorpusError,
    IndexFileError,
    IndexLocationError,
    ParameterError,
    QuestionError,
    RetrievalError,
)
from retrieval.filtering import Filter
from retrieval.loading import FileNote, Skipped
from retrieval.ranking import Ranking
from retrieval.results import DEFAULT_K, Answer, Citation, Hit, IndexStatus, Outcome, Reason, Rebuild
from retrieval.retriever import MAX_K, MAX_QUESTION, Context, DocumentInfo, Retriever
from retrieval.store import Changes

__all__ = [
    "DEFAULT_K",
    "MAX_K",
    "MAX_QUESTION",
    "Answer",
    "BackendError",
    "CatalogError",
    "Changes",
    "Citation",
    "Context",
    "Conversation",
    "FollowUp",
    "CorpusError",
    "DocumentInfo",
    "FileNote",
    "Filter",
    "Hit",
    "IndexFileError",
    "IndexLocationError",
    "IndexStatus",
    "Outcome",
    "ParameterError",
    "QuestionError",
    "Ranking",
    "Reason",
    "Rebuild",
    "RetrievalError",
    "Retriever",
    "Skipped",
]
