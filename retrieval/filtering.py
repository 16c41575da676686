"""Which passages a question may be answered from: by source, publication date, or file.

A `Filter` becomes a boolean mask over the passages, applied inside the index's
top-k selection, so that a filtered question gets its k best allowed passages
(never fewer when enough match), not the k best of all with some dropped.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import PurePosixPath
from typing import Protocol

import numpy as np

from retrieval.collection import Collection
from retrieval.errors import ParameterError
from retrieval.text import normalize


class Described(Protocol):
    """What a filter looks at in a document (a DocumentRecord or a DocumentInfo)."""

    @property
    def doc_id(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def _bound(value: str | datetime.date | None, name: str, end: bool) -> str | None:
    """An ISO date string for a bound given as YYYY, YYYY-MM, YYYY-MM-DD or a date.

    A partial `until` reaches the end of its year or month ("2015" → 2015-12-31).
    """
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    match = _PARTIAL_DATE.match(str(value).strip())
    if match is None:
        raise ParameterError(f"{name}={value!r} 不是日期:请写成 YYYY、YYYY-MM 或 YYYY-MM-DD,例如 2015-07-10。")
    year, month, day = match.group(1), match.group(2), match.group(3)
    try:
        if day is not None:
            return datetime.date(int(year), int(month), int(day)).isoformat()
        if month is not None:
            datetime.date(int(year), int(month), 1)
            return f"{year}-{int(month):02d}-{'31' if end else '01'}"
    except ValueError:
        raise ParameterError(f"{name}={value!r} 不是有效日期(月份 1-12,日期须在该月之内)。") from None
    return f"{year}-12-31" if end else f"{year}-01-01"


@dataclass(frozen=True)
class Filter:
    """Limits on the documents an answer may come from; every limit given must hold.

    `sources`: the document's source contains one of these (case and width
    ignored, traditional and simplified alike); `since`/`until`: its date is in
    the range, bounds included, given as YYYY, YYYY-MM or YYYY-MM-DD (a
    document with no known date is left out); `docs`: its path relative to the
    folder matches one of these globs (`*` crosses "/"; a pattern without "/"
    may also match the file name alone).
    """

    sources: tuple[str, ...] = ()
    since: str | datetime.date | None = None
    until: str | datetime.date | None = None
    docs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A single string is one source or one glob, not a sequence of characters.
        for name in ("sources", "docs"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(str(v) for v in value))
        since, until = _bound(self.since, "since", False), _bound(self.until, "until", True)
        if since and until and since > until:
            raise ParameterError(f"since={self.since} 晚于 until={self.until}:没有日期能同时满足两者。")

    @property
    def active(self) -> bool:
        return bool(self.sources or self.docs or self.since is not None or self.until is not None)

    @cached_property
    def _bounds(self) -> tuple[str | None, str | None]:
        return _bound(self.since, "since", False), _bound(self.until, "until", True)

    @cached_property
    def _normalized_sources(self) -> tuple[str, ...]:
        return tuple(normalize(s) for s in self.sources if s.strip())

    def allows(self, record: Described) -> bool:
        """True when the document may answer."""
        if self.sources:
            source = normalize(record.source or "")
            if not source or not any(s in source for s in self._normalized_sources):
                return False
        since, until = self._bounds
        if since is not None or until is not None:
            if record.date is None:
                return False
            if (since is not None and record.date < since) or (until is not None and record.date > until):
                return False
        if self.docs:
            name = PurePosixPath(record.doc_id).name
            if not any(fnmatchcase(record.doc_id, g) or ("/" not in g and fnmatchcase(name, g)) for g in self.docs):
                return False
        return True

    def describe(self) -> str:
        """The filter as the REPL and the CLI write it: source=… since=… until=… doc=…"""
        parts = [f"source={s}" for s in self.sources]
        if self.since is not None:
            parts.append(f"since={self.since}")
        if self.until is not None:
            parts.append(f"until={self.until}")
        parts += [f"doc={g}" for g in self.docs]
        return " ".join(parts)


def passage_mask(collection: Collection, filters: Filter | None) -> np.ndarray | None:
    """True for every passage the filter allows; None when nothing is filtered."""
    if filters is None or not filters.active:
        return None
    allowed = np.fromiter((filters.allows(r) for r in collection.records), dtype=bool, count=len(collection.records))
    return allowed[np.asarray(collection.passage_doc)]
