"""Live reload for the long-running adapters: notice changed files, update the index, swap it in.

A daemon thread polls the folder every `interval` seconds (sizes and times of
its files: a few milliseconds for thousands of files; a file whose size and
time changed is read to see whether its bytes did). On a change it calls
`Retriever.reload()`, which analyses only new and changed files and replaces
the retriever's state in one step; questions meanwhile are answered from the
old state, in their own threads, and none is lost. `request()` asks for a check
now: the adapters call it on SIGHUP (and the REPL's `:reload`).

Polling rather than a file-system watcher: it needs no dependency, works on
network and container mounts where inotify does not, and a document archive
that changes a few times a day does not need sub-second notice.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from retrieval import Changes, RetrievalError, Retriever

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
NAMES_LOGGED = 10


def describe(changes: Changes) -> str:
    """What changed, in one line for a log or a status message."""
    parts = []
    for label, names in (("新增", changes.added), ("修改", changes.changed), ("删除", changes.removed)):
        if names:
            shown = "、".join(names[:NAMES_LOGGED])
            more = f" 等 {len(names)} 个" if len(names) > NAMES_LOGGED else ""
            parts.append(f"{label} {shown}{more}")
    return ";".join(parts) + f"(重新分词 {changes.analysed} 篇)"


class Reloader:
    """Keeps a retriever up to date with its folder, from a daemon thread.

    `interval`: seconds between polls (0: none, only `request()`). `on_change`
    is called (in that thread) after each swap with what changed.
    A failed update (the folder emptied, a disk error) is logged and the old
    index keeps answering; the next poll tries again.
    """

    def __init__(
        self,
        retriever: Retriever,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        on_change: Callable[[Changes], None] | None = None,
    ) -> None:
        self.retriever = retriever
        self.interval = interval
        self.on_change = on_change
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0

    def start(self) -> Reloader:
        if self._thread is None and self.retriever.folder is not None:
            self._thread = threading.Thread(target=self._run, name="index-reload", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def request(self) -> None:
        """Check the folder now (safe to call from a signal handler)."""
        self._wake.set()

    def install_signal(self) -> None:
        """SIGHUP (the usual 'reload your configuration' signal) checks the folder now. Main thread only."""
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda signum, frame: self.request())

    def check(self) -> Changes:
        """Update now if the folder changed; what changed (empty when nothing did)."""
        changes = self.retriever.reload()
        if changes:
            self.reloads += 1
            log.info("文档已更新,索引已切换: %s", describe(changes))
            if self.on_change is not None:
                self.on_change(changes)
        return changes

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval if self.interval > 0 else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except RetrievalError as error:
                log.warning("文档目录有变化,但索引更新失败,继续使用原索引: %s", error)
            except OSError as error:
                log.warning("文档目录有变化,但索引更新失败(%s),继续使用原索引。", error.strerror or error)


def watch(retriever: Retriever, interval: float, on_change: Callable[[Changes], None] | None = None) -> Reloader:
    """A started reloader for a long-running adapter: polling every `interval` seconds (0: never), and on SIGHUP."""
    retriever.warm_up()
    reloader = Reloader(retriever, interval, on_change)
    reloader.install_signal()
    return reloader.start()
