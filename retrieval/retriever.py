"""The Retriever: a folder of Chinese documents in, cited answers out."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval import general_idf, store
from retrieval.analysis import (
    NOISE,
    content_words,
    content_words_of,
    index_terms,
    index_terms_of,
    noise_spans,
    question_tokens,
)
from retrieval.answer_features import headline_text, profile_question
from retrieval.answer_model import AnswerModel, decide, shipped_model
from retrieval.answering import highlight_spans, is_known
from retrieval.collection import Collection
from retrieval.errors import CorpusError, IndexFileError, IndexVersionError, QuestionError
from retrieval.general_idf import GeneralIdf
from retrieval.indexing import build_index
from retrieval.loading import Skipped, SourceText, read_folder
from retrieval.metadata import read_catalog
from retrieval.ranking import BM25Index
from retrieval.results import Answer, Citation, Hit, Outcome
from retrieval.seeds import seeds_folder

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Context:
    """A passage's paragraph with its neighbours, noise removed, for reading in full."""

    citation: Citation
    focus: int  # the paragraph number the passage is in
    paragraphs: tuple[tuple[int, str], ...]  # (paragraph number, text), in order


class Retriever:
    """Answers questions from a collection of documents.

    `Retriever()` uses the bundled seed articles; `from_directory` and
    `from_texts` use others. With `index_dir`, the built index is saved there
    and reused while the folder's documents are unchanged.
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        index_dir: str | Path | None = None,
        workers: int | None = None,
        progress: bool = False,
    ) -> None:
        folder = Path(folder).expanduser() if folder is not None else seeds_folder()
        self.folder: Path | None = folder
        self.index_status = "built"
        if index_dir is not None:
            index_dir = Path(index_dir)
            if self._open_saved(index_dir, folder):
                return
        stamps = store.folder_stamps(folder) if folder.is_dir() else []
        texts, skipped = read_folder(folder)
        collection, index = build_index(texts, read_catalog(folder), workers=workers, progress=progress)
        self._use(collection, index, skipped)
        if index_dir is not None:
            try:
                store.save(index_dir, collection, index, stamps, skipped, self._general)
            except OSError as error:
                log.warning("could not save the index to %s: %s", index_dir, error)

    def _open_saved(self, index_dir: Path, folder: Path) -> bool:
        """Use the saved index when it is sound and the folder unchanged; say why not otherwise."""
        if not (index_dir / store.MANIFEST).exists():
            return False
        try:
            loaded = store.load(index_dir)
        except IndexVersionError as error:
            log.info("%s", error)  # expected after an upgrade: no cause for alarm
            self.index_status = "rebuilt: analyzer changed"
            return False
        except IndexFileError as error:
            log.warning("%s 正在重建索引。", error)
            self.index_status = "rebuilt: damaged"
            return False
        if not folder.is_dir() or not store.is_fresh(loaded, folder):
            self.index_status = "rebuilt: documents changed"
            return False
        self._use(loaded.collection, loaded.index, loaded.skipped, loaded.general)
        self.index_status = "loaded"
        return True

    @classmethod
    def from_directory(cls, folder: str | Path, **options) -> Retriever:
        """Every .txt and .md file under `folder` (hidden ones left out)."""
        return cls(folder, **options)

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
        self.folder = None
        self.index_status = "built"
        self._use(*build_index(sources), [])
        return self

    def _use(
        self, collection: Collection, index: BM25Index, skipped: list[Skipped], general: GeneralIdf | None = None
    ) -> None:
        if len(collection) == 0:
            raise CorpusError("文档中没有可检索的正文(清理掉页面杂项后为空)。")
        self._collection = collection
        self._index = index
        self._general = general or general_idf.from_jieba()
        self.skipped: tuple[Skipped, ...] = tuple(skipped)

    # -- the collection ---------------------------------------------------

    @property
    def documents(self) -> tuple[DocumentInfo, ...]:
        counts = self._collection.passage_counts()
        return tuple(
            DocumentInfo(i + 1, r.doc_id, r.title, r.source, r.date, r.url, int(counts[i]))
            for i, r in enumerate(self._collection.records)
        )

    def __len__(self) -> int:
        """The number of passages."""
        return len(self._collection)

    def passage_text(self, index: int) -> str:
        return self._collection.passage_text(index)

    def context(self, hit: Hit, around: int = 1) -> Context:
        """The whole paragraph of `hit` and up to `around` paragraphs on each side."""
        doc = self._doc_number(hit.citation.doc_id)
        paragraphs: dict[int, list[str]] = {}
        focus = hit.citation.paragraph
        for index in self._collection.doc_passages(doc):
            number = int(self._collection.passage_paragraph[index])
            if abs(number - focus) <= around:
                paragraphs.setdefault(number, []).append(NOISE.sub("", self._collection.passage_text(index)))
        return Context(hit.citation, focus, tuple((n, "".join(parts)) for n, parts in sorted(paragraphs.items())))

    def _doc_number(self, doc_id: str) -> int:
        if not hasattr(self, "_doc_numbers"):
            self._doc_numbers = {record.doc_id: i for i, record in enumerate(self._collection.records)}
        return self._doc_numbers[doc_id]

    # -- questions ----------------------------------------------------------

    def ranking(self, question: str, k: int = DEFAULT_K) -> list[tuple[str, int, float]]:
        """The bare ranking: (doc_id, paragraph, score) of the `k` best passages, best first."""
        question = _checked(question)
        ranked = self._index.top(index_terms(question), k)
        records, passages = self._collection.records, self._collection
        return [
            (records[int(passages.passage_doc[i])].doc_id, int(passages.passage_paragraph[i]), score)
            for i, score in ranked
        ]

    def search(self, question: str, k: int = DEFAULT_K) -> list[Hit]:
        """The `k` best passages for `question`, best first; never abstains."""
        question = _checked(question)
        words = content_words(question)
        ranked = self._index.top(index_terms(question), k)
        return [self._hit(index, score, rank, words) for rank, (index, score) in enumerate(ranked, start=1)]

    def ask(self, question: str, k: int = DEFAULT_K, model: AnswerModel | None = None) -> Answer:
        """The best passages with citations and the sentence that answers; unsure or no answer when in doubt.

        The answer model (`answer_model`) reranks the BM25 candidates, chooses
        the headline among them whatever `k` is, and says how sure it is.
        """
        question = _checked(question)
        tokens = question_tokens(question)
        words = content_words_of(tokens)
        if not words:
            return Answer(question, (), True, None, None, reason="empty")
        model = model or shipped_model()
        ranked = self._index.top(index_terms_of(tokens), max(k, model.candidates))
        if not ranked:
            return Answer(question, (), True, None, None, reason="no-match", missing_words=tuple(words))
        profile = profile_question(question, self._known, self._general.weight, tokens)
        pool = ranked[: model.candidates]
        texts = [self.passage_text(i) for i, _ in pool]
        decision = decide(profile, texts, [score for _, score in pool], model)
        order = [pool[j] for j in decision.order] + ranked[len(pool) :]
        hits = tuple(self._hit(index, score, rank, words) for rank, (index, score) in enumerate(order[:k], start=1))
        common = {"missing_words": profile.missing, "outcome": decision.outcome, "confidence": decision.confidence}
        if decision.outcome != Outcome.ANSWERED or decision.headline is None:
            reason = "uncertain" if decision.outcome == Outcome.UNSURE else (
                "unknown-words" if profile.missing else "low-coverage"
            )
            return Answer(question, hits, True, None, None, reason=reason, **common)
        holder, span = decision.headline
        # The headline's passage is shown first (`decision.order` puts it there).
        return Answer(question, hits, False, headline_text(texts[holder], span), 0, **common)

    def _known(self, word: str) -> bool:
        return is_known(word, self._index.document_frequency)

    def _hit(self, index: int, score: float, rank: int, words: list[str]) -> Hit:
        passage = self._collection.passage(index)
        record = self._collection.records[passage.doc_index]
        text = self._collection.text_of(passage)
        citation = Citation(record.doc_id, record.title, record.source, record.date, record.url, passage.paragraph)
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
