"""The Retriever: a folder of Chinese documents in, cited answers out."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.analysis import Analyzer, Question, default_analyzer
from retrieval.answer_features import profile_question
from retrieval.answer_model import AnswerModel, shipped_model
from retrieval.answering import abstention, answer, best_reading, is_known, make_hits
from retrieval.cache import APP_NAME, user_cache_root
from retrieval.collection import Collection, PassageSource
from retrieval.conversation import Conversation
from retrieval.errors import CorpusError, IndexFileError, ParameterError, QuestionError
from retrieval.filtering import Filter, passage_mask
from retrieval.general_idf import GeneralIdf
from retrieval.loading import FileNote, Skipped, SourceText
from retrieval.ranking import Ranking, Scorer
from retrieval.results import DEFAULT_K, Answer, Citation, Hit, IndexStatus, Reason, Rebuild
from retrieval.seeds import seeds_folder
from retrieval.store import (
    Changes,
    OpenedIndex,
    build_from_sources,
    default_index_dir,
    folder_changed,
    open_folder,
    save_opened,
    update_from,
)
from retrieval.text import NOISE, replace_surrogates

MAX_K = 1000
MAX_QUESTION = 500
MASK_CACHE = 32

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _State:
    """Everything a question is answered from: replaced whole by a reload, never changed in place.

    Filters' passage masks belong to the state: a reload brings new passages, and new masks.
    """

    opened: OpenedIndex
    masks: dict[Filter, np.ndarray | None] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, opened: OpenedIndex) -> _State:
        return cls(opened)

    def mask(self, filters: Filter | None) -> np.ndarray | None:
        """The passages `filters` lets through (None: all), made once per filter."""
        if filters is None:
            return None
        if not isinstance(filters, Filter):
            raise ParameterError(f"filters 应为 Filter,收到的是 {type(filters).__name__}。")
        if not isinstance(self.opened.collection, Collection):
            raise ParameterError("OpenSearch 后端暂不支持筛选(source/since/until/doc):请在本地索引上使用筛选。")
        # A REPL or a bot asks many questions under one filter: its mask is made once.
        if filters not in self.masks:
            if len(self.masks) >= MASK_CACHE:
                self.masks.clear()
            self.masks[filters] = passage_mask(self.opened.collection, filters)
        return self.masks[filters]


class Retriever:
    """Answers questions from a collection of documents.

    `Retriever()` uses the bundled seed articles, their index saved in and
    reused from the user's cache folder (platformdirs: ~/.cache/zhdocqa on
    Linux) unless `index_dir` says where; `from_directory` and `from_texts` use
    others. With `index_dir`, the built index is saved there and reused while
    the folder's documents are unchanged (and updated, reading only the changed
    files, when they change); a folder that holds anything but this program's
    index is refused (IndexLocationError), never
    overwritten. Links out of the folder are followed only with `follow_links`;
    `rebuild` builds anew even when the saved index is fresh (replacing it only
    once the new one is complete). `ranking` picks the scorer: "exact"
    (rank-bm25's BM25, the default) or "lucene" (the scores Lucene and
    OpenSearch give); a saved index is never reused across modes.
    `from_opensearch` answers from a collection pushed to an OpenSearch cluster.

    The retriever holds one immutable state; `reload()` builds the next one
    while questions are answered from the current one, then swaps it in.

    `_opened` is the hook every other source comes in by: a collection and a
    scorer already opened (store.OpenedIndex), e.g. a cluster's search and the
    passages it returns (retrieval.opensearch_backend).
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        index_dir: str | Path | None = None,
        workers: int | None = None,
        progress: bool = False,
        follow_links: bool = False,
        rebuild: bool = False,
        analyzer: Analyzer | None = None,
        on_rebuild: Callable[[Rebuild], None] | None = None,
        ranking: str = Ranking.EXACT,
        _opened: OpenedIndex | None = None,
    ) -> None:
        self._analyzer = analyzer or default_analyzer()
        if _opened is None and folder is None and index_dir is None:
            # The seeds' index is cached like any folder's: built once, not on every Retriever().
            index_dir = default_index_dir(user_cache_root(APP_NAME), seeds_folder())
        self._index_dir = Path(index_dir) if index_dir is not None else None
        self._workers = workers
        self._follow_links = follow_links
        self._lock = threading.RLock()
        if _opened is None:
            mode = _checked_ranking(ranking)
            path = Path(folder).expanduser() if folder is not None else seeds_folder()
            _opened = open_folder(
                path,
                self._analyzer,
                self._index_dir,
                workers=workers,
                progress=progress,
                follow_links=follow_links,
                force=rebuild,
                on_rebuild=on_rebuild,
                ranking=mode,
            )
            self.folder: Path | None = path
        else:
            self.folder = None
        self._state = _State.of(_opened)

    # -- the state, trusted, and its replacement ------------------------------------

    def _current(self) -> _State:
        """The state to answer from, once its checksums are verified (a damaged index is rebuilt first)."""
        state = self._state
        if state.opened.verification is None:
            return state
        with self._lock:
            state = self._state
            verification = state.opened.verification
            if verification is None:
                return state
            try:
                verification.wait()
                opened = dataclasses.replace(state.opened, verification=None)
            except IndexFileError as error:
                if self.folder is None:
                    raise
                log.warning("%s 正在重建索引。", error)
                opened = open_folder(
                    self.folder, self._analyzer, self._index_dir, workers=self._workers,
                    follow_links=self._follow_links, force=True, ranking=state.opened.ranking,
                )
                opened.status = IndexStatus.REBUILT_DAMAGED
            self._state = _State.of(opened)
            return self._state

    def warm_up(self) -> None:
        """For a long-running program: load the full segmentation dictionary in a background thread.

        Until it is loaded, questions are cut through the saved lexicon (same words,
        a tenth of a millisecond slower); a one-shot `ask` never needs it.
        """
        self._analyzer.load_in_background()

    def changed(self) -> bool:
        """True when the folder's files differ from the ones the index was built from (cheap: sizes and times)."""
        if self.folder is None:
            return False
        return folder_changed(self._state.opened, self.folder, self._follow_links)

    def reload(self) -> Changes:
        """Bring the index up to date with the folder; what changed (empty when nothing did).

        New and changed files are read and analysed, the others reused; the
        result equals a full build. Questions asked meanwhile (from other
        threads) are answered from the current state, which is then replaced in
        one step. The updated index is saved when there is an `index_dir`.
        """
        if self.folder is None:
            return Changes()
        with self._lock:
            state = self._current()
            if not self.changed():
                return Changes()
            updated = update_from(
                state.opened, self.folder, self._analyzer, follow_links=self._follow_links, workers=self._workers
            )
            if self._index_dir is not None:
                save_opened(self._index_dir, updated, self._analyzer)
            self._state = _State.of(updated)
            return updated.changes

    @property
    def index_status(self) -> IndexStatus:
        return self._state.opened.status

    @property
    def changes(self) -> Changes:
        """What the last update found changed in the folder (empty for a build or a load)."""
        return self._state.opened.changes

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(self._state.opened.skipped)

    @property
    def notes(self) -> tuple[FileNote, ...]:
        return tuple(self._state.opened.notes)

    @property
    def ranking_mode(self) -> Ranking:
        return self._state.opened.ranking

    @property
    def _collection(self) -> PassageSource:
        return self._current().opened.collection

    @property
    def _index(self) -> Scorer:
        return self._current().opened.index

    @property
    def _general(self) -> GeneralIdf:
        return self._current().opened.general

    @classmethod
    def from_directory(cls, folder: str | Path, **options: Any) -> Retriever:
        """Every .txt and .md file under `folder` (hidden ones left out)."""
        return cls(folder, **options)

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        ids: Sequence[str] | None = None,
        *,
        analyzer: Analyzer | None = None,
        ranking: str = Ranking.EXACT,
    ) -> Retriever:
        """Documents given as strings; doc_id is ids[i], or str(i) without ids."""
        mode = _checked_ranking(ranking)
        texts = list(texts)
        if any(not isinstance(t, str) for t in texts):
            raise CorpusError("每篇文本都应是字符串。")
        if ids is not None and len(ids) != len(texts):
            raise CorpusError(f"{len(texts)} 篇文本却有 {len(ids)} 个 id:两者数量必须相同。")
        names = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(texts))]
        if len(set(names)) != len(names):
            raise CorpusError("文档 id 有重复:每篇文本需要不同的 id。")
        sources = [
            SourceText(replace_surrogates(name), Path(), replace_surrogates(text), "str")
            for name, text in zip(names, texts)
            if text.strip()
        ]
        if not sources:
            raise CorpusError("没有可检索的文本:请至少提供一篇非空文本。")
        analyzer = analyzer or default_analyzer()
        return cls(analyzer=analyzer, _opened=build_from_sources(sources, analyzer, ranking=mode))

    @classmethod
    def from_opensearch(
        cls,
        url: str,
        *,
        index: str,
        analyzer: Analyzer | None = None,
        timeout: float | None = None,
        client: object | None = None,
    ) -> Retriever:
        """The collection `python -m retrieval push` loaded into the cluster at `url`, under the alias `index`.

        Ranks as the "lucene" mode does; raises BackendError when the cluster
        cannot be reached or holds no such index. Needs the `opensearch` extra.
        `client`: an opensearch-py client to use instead of connecting to `url`.
        """
        from retrieval.opensearch_backend import open_cluster  # only cluster users need the client

        analyzer = analyzer or default_analyzer()
        opened = open_cluster(url, index, analyzer, timeout=timeout, client=client)
        return cls(analyzer=analyzer, _opened=opened)

    # -- the collection ---------------------------------------------------

    @property
    def documents(self) -> tuple[DocumentInfo, ...]:
        """The documents that have passages, numbered from 1."""
        listed = self._state.opened.collection.listing()
        return tuple(
            DocumentInfo(n, r.doc_id, r.title, r.source, r.date, r.url, count)
            for n, (r, count) in enumerate(listed, start=1)
        )

    def __len__(self) -> int:
        """The number of passages."""
        return len(self._state.opened.collection)

    def passage_text(self, index: int) -> str:
        return self._current().opened.collection.passage_text(index)

    def context(self, hit: Hit, around: int = 1) -> Context:
        """The whole paragraph of `hit` and up to `around` paragraphs on each side."""
        collection = self._current().opened.collection
        paragraphs: dict[int, list[str]] = {}
        focus = hit.citation.paragraph
        try:
            nearby = collection.nearby(hit.citation.doc_id, focus, around)
        except KeyError:
            nearby = []  # the document left the folder after this answer was given
        for index in nearby:
            number = collection.passage(index).paragraph
            paragraphs.setdefault(number, []).append(NOISE.sub("", collection.passage_text(index)))
        return Context(hit.citation, focus, tuple((n, "".join(parts)) for n, parts in sorted(paragraphs.items())))

    def lines(self, hit: Hit, around: int = 0) -> tuple[tuple[int, str], ...]:
        """The file's lines the hit spans, and `around` more on each side: (line number from 1, text).

        Read from the text the index was built from, so the numbers match the
        citation even if the file has changed since.
        """
        first, last = hit.citation.lines
        return tuple(self._collection.file_lines(hit.citation.doc_id, first - around, last + around))

    # -- questions ----------------------------------------------------------

    def conversation(self, filters: Filter | None = None) -> Conversation:
        """Questions in turns: follow-ups ("那腾讯呢?", "占多少股份?") are resolved against earlier turns.

        With `filters`, every turn is answered from the documents it allows.
        """
        return Conversation(functools.partial(self.ask, filters=filters), self._analyzer)

    def ranking(
        self, question: str, k: int = DEFAULT_K, filters: Filter | None = None
    ) -> list[tuple[str, int, float]]:
        """The bare ranking: (doc_id, paragraph, score) of the `k` best passages, best first."""
        analysed = self._question(question)
        state = self._current()
        ranked = state.opened.index.top(list(analysed.terms), _checked_k(k), state.mask(filters))
        passages = [state.opened.collection.passage(i) for i, _ in ranked]
        return [
            (state.opened.collection.record(p.doc_index).doc_id, p.paragraph, score)
            for p, (_, score) in zip(passages, ranked)
        ]

    def search(self, question: str, k: int = DEFAULT_K, filters: Filter | None = None) -> list[Hit]:
        """The `k` best passages for `question` (among those `filters` allows), best first; never abstains."""
        analysed = self._question(question)
        state = self._current()
        ranked = state.opened.index.top(list(analysed.terms), _checked_k(k), state.mask(filters))
        return make_hits(state.opened.collection, ranked, analysed, self._analyzer)

    def ask(
        self, question: str, k: int = DEFAULT_K, filters: Filter | None = None, model: AnswerModel | None = None
    ) -> Answer:
        """The best passages with citations and the sentence that answers; unsure or no answer when in doubt.

        With `filters`, only passages of the documents it allows are considered.
        The answer model (default: the shipped one) reranks the BM25
        candidates, chooses the headline among them whatever `k` is, and says
        how sure it is (`Answer.outcome`, `Answer.confidence`).
        """
        analysed = self._question(question)
        k = _checked_k(k)
        if not analysed.words:
            return abstention(analysed, Reason.EMPTY)
        state = self._current()
        opened = state.opened
        index, collection = opened.index, opened.collection
        mask = state.mask(filters)
        if mask is not None and not mask.any():
            return abstention(analysed, Reason.FILTERED_OUT)
        model = model or shipped_model()
        ranked = index.top(list(analysed.terms), max(k, model.candidates), mask)
        if not ranked:
            return abstention(analysed, Reason.NO_MATCH, analysed.words)

        def known(word: str) -> bool:
            return is_known(word, index.document_frequency)

        profile = profile_question(analysed, self._analyzer, known, opened.general.weight)
        return answer(analysed, profile, collection, ranked, k, self._analyzer, model)

    def _known(self, word: str) -> bool:
        """True when some passage holds `word` (the training command reads the collection through this)."""
        return is_known(word, self._index.document_frequency)

    def _question(self, question: str) -> Question:
        """The question analysed, in the reading the collection holds best (`best_reading`)."""
        if not isinstance(question, str):
            raise QuestionError(f"问题应为文本,收到的是 {type(question).__name__}。")
        stripped = question.strip()
        if len(stripped) > MAX_QUESTION:
            raise QuestionError(f"问题太长({len(stripped)} 字),请精简到 {MAX_QUESTION} 字以内。")
        readings = self._analyzer.readings(stripped)
        if len(readings) == 1:
            return readings[0]
        opened = self._current().opened
        return best_reading(readings, opened.index.document_frequency, opened.general.weight)


def _checked_ranking(value: str) -> Ranking:
    """`value` as a Ranking; ParameterError naming the choices otherwise."""
    try:
        return Ranking(value)
    except ValueError:
        choices = ", ".join(r.value for r in Ranking)
        raise ParameterError(f"未知的评分方式 {value!r}:可选 {choices}。") from None


def _checked_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ParameterError(f"k 应为 1 到 {MAX_K} 之间的整数,收到 {k!r}。")
    return k
