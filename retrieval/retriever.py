"""The Retriever: a folder of Chinese documents in, cited answers out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.analysis import NOISE, content_words, index_terms, noise_spans, normalize
from retrieval.answering import (
    COVERAGE_POOL,
    MIN_COVERAGE,
    QuestionWords,
    best_sentence,
    expects,
    fits,
    highlight_spans,
    is_known,
)
from retrieval.chunking import Passage, chunk
from retrieval.documents import Document, build_document
from retrieval.errors import CorpusError, QuestionError
from retrieval.loading import Skipped, SourceText, read_folder
from retrieval.metadata import read_catalog
from retrieval.ranking import Ranker
from retrieval.results import Answer, Citation, Hit
from retrieval.seeds import seeds_folder

DEFAULT_K = 5
MAX_QUESTION = 500


@dataclass(frozen=True)
class DocumentInfo:
    """A document of the collection, as `:sources` lists it."""

    number: int  # 1-based, in doc_id order
    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    passages: int


class Retriever:
    """Answers questions from a collection of documents.

    `Retriever()` uses the bundled seed articles; `from_directory` and
    `from_texts` use others.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        folder = Path(folder) if folder is not None else seeds_folder()
        texts, skipped = read_folder(folder)
        catalog = read_catalog(folder)
        self._build([build_document(t, catalog.get(t.doc_id)) for t in texts], skipped)

    @classmethod
    def from_directory(cls, folder: str | Path) -> Retriever:
        """Every .txt and .md file under `folder` (hidden ones left out)."""
        return cls(folder)

    @classmethod
    def from_texts(cls, texts: Iterable[str], ids: Sequence[str] | None = None) -> Retriever:
        """Documents given as strings; doc_id is ids[i], or str(i) without ids."""
        texts = list(texts)
        if ids is not None and len(ids) != len(texts):
            raise CorpusError(f"{len(texts)} 篇文本却有 {len(ids)} 个 id:两者数量必须相同。")
        names = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(texts))]
        if len(set(names)) != len(names):
            raise CorpusError("文档 id 有重复:每篇文本需要不同的 id。")
        sources = [SourceText(name, Path(name), text, "str") for name, text in zip(names, texts) if text.strip()]
        if not sources:
            raise CorpusError("没有可检索的文本:请至少提供一篇非空文本。")
        self = cls.__new__(cls)
        self._build([build_document(s) for s in sources], [])
        return self

    def _build(self, documents: list[Document], skipped: list[Skipped]) -> None:
        self._documents = documents
        self.skipped: tuple[Skipped, ...] = tuple(skipped)
        self._passages: list[Passage] = []
        for index, document in enumerate(documents):
            self._passages.extend(chunk(document, index))
        if not self._passages:
            raise CorpusError("文档中没有可检索的正文(清理掉页面杂项后为空)。")
        self._ranker = Ranker([index_terms(self.passage_text(i)) for i in range(len(self._passages))])

    # -- the collection ---------------------------------------------------

    @property
    def documents(self) -> tuple[DocumentInfo, ...]:
        counts = [0] * len(self._documents)
        for passage in self._passages:
            counts[passage.doc_index] += 1
        return tuple(
            DocumentInfo(i + 1, d.doc_id, d.title, d.source, d.date, d.url, counts[i])
            for i, d in enumerate(self._documents)
        )

    def __len__(self) -> int:
        """The number of passages."""
        return len(self._passages)

    def passage_text(self, index: int) -> str:
        passage = self._passages[index]
        return passage.text(self._documents[passage.doc_index])

    # -- questions ----------------------------------------------------------

    def search(self, question: str, k: int = DEFAULT_K) -> list[Hit]:
        """The `k` best passages for `question`, best first; never abstains."""
        question = _checked(question)
        words = content_words(question)
        ranked = self._ranker.top(index_terms(question), k)
        return [self._hit(index, score, rank, words) for rank, (index, score) in enumerate(ranked, start=1)]

    def ask(self, question: str, k: int = DEFAULT_K) -> Answer:
        """The best passages with citations, or an abstention when the documents do not answer."""
        question = _checked(question)
        words = content_words(question)
        if not words:
            return Answer(question, (), True, None, None, reason="empty")
        ranked = self._ranker.top(index_terms(question), max(k, COVERAGE_POOL))
        if not ranked:
            return Answer(question, (), True, None, None, reason="no-match", missing_words=tuple(words))
        weights = QuestionWords(words, self._known)
        kind = expects(question)
        # A passage counts as evidence only if it holds the kind of answer asked
        # for: a "which year" question is not answered by a passage with no year.
        coverage = max(
            (
                weights.evidence(text).coverage
                for text in (self.passage_text(i) for i, _ in ranked[:COVERAGE_POOL])
                if kind != "year" or fits(kind, normalize(text))
            ),
            default=0.0,
        )
        hits = [self._hit(index, score, rank, words) for rank, (index, score) in enumerate(ranked[:k], start=1)]
        if coverage < MIN_COVERAGE:
            reason = "unknown-words" if weights.missing else "low-coverage"
            return Answer(question, tuple(hits), True, None, None, reason=reason, missing_words=weights.missing)
        chosen = best_sentence([(h.text, h.score) for h in hits], weights, kind)
        sentence, sentence_hit = None, None
        if chosen is not None:
            sentence_hit, (start, end) = chosen
            sentence = NOISE.sub("", hits[sentence_hit].text[start:end])
        return Answer(question, tuple(hits), False, sentence, sentence_hit, missing_words=weights.missing)

    def _known(self, word: str) -> bool:
        return is_known(word, self._ranker.document_frequency)

    def _hit(self, index: int, score: float, rank: int, words: list[str]) -> Hit:
        passage = self._passages[index]
        document = self._documents[passage.doc_index]
        text = passage.text(document)
        citation = Citation(document.doc_id, document.title, document.source, document.date, document.url, passage.paragraph)
        return Hit(
            text=text,
            score=score,
            citation=citation,
            highlights=highlight_spans(text, words),
            rank=rank,
            start=passage.start,
            end=passage.end,
            hidden=tuple(noise_spans(text)),
        )


def _checked(question: str) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"问题应为文本,收到的是 {type(question).__name__}。")
    question = question.strip()
    if len(question) > MAX_QUESTION:
        raise QuestionError(f"问题太长({len(question)} 字),请精简到 {MAX_QUESTION} 字以内。")
    return question
