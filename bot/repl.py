"""The terminal: an interactive REPL, batch answering of piped lines.

It parses what the person types, calls the retrieval core, and prints through
the renderer; it holds no retrieval logic of its own.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bot import render
from bot.reloading import Reloader, describe
from bot.settings import MAX_K, ExitCode
from retrieval import (
    DEFAULT_K,
    Answer,
    BackendError,
    Changes,
    Conversation,
    Filter,
    Hit,
    Outcome,
    ParameterError,
    QuestionError,
    RetrievalError,
    Retriever,
)
from retrieval.text import replace_surrogates

HELP = """命令(冒号也可以用全角的 ：):
  直接输入问题       用中文提问,例如: 阿里巴巴花了多少钱入股新浪微博?
  :k N              每次显示 N 段(1-20,现在是 {k})
  :more             上一个问题的后续段落
  :full N           第 N 段所在的整段原文及前后各一段
  :open N           第 N 段在文件中的位置(路径:行号)和那几行原文
  :filter 条件       只在符合条件的文档中找答案,例如 :filter source=易商讯 since=2016 until=2016-12 doc=*.md
                    (:filter 显示当前条件,:filter off 取消)
  :sources          文档列表(标题、来源、日期、文件、段落数)
  :new              重新开始(不再把下一个问题当作追问)
  :reload           立即检查文档目录的变化(平时每隔几秒自动检查)
  :help             显示本帮助
  :quit             退出(也可以按 Ctrl-D);Ctrl-C 清空当前输入"""

PROMPT = "问> "
FILTER_KEYS = {"source": "sources", "since": "since", "until": "until", "doc": "docs"}


_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def clean_input(line: str) -> str:
    """The line without terminal escape sequences or control characters (a paste can carry them)."""
    line = _ESCAPE_SEQUENCE.sub("", replace_surrogates(line))
    return "".join(c for c in line if unicodedata.category(c) != "Cc" or c == "\n").strip()


def parse_filter(text: str) -> Filter:
    """`source=易商讯 since=2016 until=2016-12 doc=*.md` (full-width ＝ and spaces accepted) to a Filter."""
    fields: dict[str, list[str]] = {"sources": [], "docs": []}
    single: dict[str, str] = {}
    for part in unicodedata.normalize("NFKC", text).split():
        key, equals, value = part.partition("=")
        name = FILTER_KEYS.get(key.strip().lower())
        if not equals or name is None or not value.strip():
            raise ParameterError(
                f"看不懂筛选条件 {part!r}:应写成 source=名称、since=日期、until=日期 或 doc=文件模式。"
            )
        if name in fields:
            fields[name].append(value.strip())
        else:
            single[name] = value.strip()
    return Filter(
        sources=tuple(fields["sources"]),
        since=single.get("since"),
        until=single.get("until"),
        docs=tuple(fields["docs"]),
    )


@dataclass
class Session:
    """What the REPL remembers between lines."""

    retriever: Retriever
    console: Console
    k: int = DEFAULT_K
    filters: Filter | None = None
    question: str | None = None
    answer: Answer | None = None
    numbered: list[Hit] = field(default_factory=list)  # every hit printed for the last question, in order
    conversation: Conversation | None = None  # set: follow-up questions are resolved against earlier turns
    reloader: Reloader | None = None  # set: the folder is watched, and :reload checks it now
    notices: list[str] = field(default_factory=list)  # what changed in the folder, told before the next answer
    unanswered: int = 0  # questions the documents did not answer (for the batch's exit code)
    failed: int = 0  # questions that could not be asked (too long)

    @property
    def prompt(self) -> str:
        """The prompt, with the filter in force shown inside it."""
        if self.filters is None:
            return PROMPT
        return f"问[{self.filters.describe()}]> "

    # -- one line -----------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Act on one line; False when the person asked to quit."""
        try:
            return self._handle(line)
        except BackendError as error:  # a cluster that fails mid-session is one line, not a traceback
            self.say(f"检索服务出错: {error}", style="red")
            return True

    def notice_changes(self, changes: Changes) -> None:
        """Called from the reload thread: remembered, told at the next line (never in the middle of the prompt)."""
        self.notices.append(f"文档已更新: {describe(changes)}")

    def _handle(self, line: str) -> bool:
        line = clean_input(line)
        while self.notices:
            self.say(self.notices.pop(0), style="dim")
        if not line:
            self.say("请输入问题,或输入 :help 查看命令。")
            return True
        # A Chinese IME types the full-width colon.
        if line.startswith((":", "\uff1a")):
            return self.command(line[1:].strip())
        self.ask(line)
        return True

    def say(self, message: str, style: str | None = None) -> None:
        self.console.print(render.safe_text(message, style=style))

    def ask(self, question: str) -> None:
        try:
            if self.conversation is not None:
                answer = self.conversation.ask(question, k=self.k)
            else:
                answer = self.retriever.ask(question, k=self.k, filters=self.filters)
        except (QuestionError, ParameterError) as error:  # ParameterError: a filter this backend cannot apply
            self.failed += 1
            self.say(str(error), style="red")
            return
        if answer.searched and answer.searched != answer.question:
            self.say(f"理解为: {answer.searched}", style="dim")
        self.question, self.answer = answer.searched or question, answer
        self.numbered = list(answer.hits) if answer.outcome != Outcome.NO_ANSWER else []
        if answer.abstained:
            self.unanswered += 1
        self.console.print(render.rich_answer(answer))

    def command(self, text: str) -> bool:
        text = text.replace("\u3000", " ")
        name, _, argument = text.partition(" ")
        name, argument = unicodedata.normalize("NFKC", name).lower(), argument.strip()
        if name in ("quit", "q", "exit"):
            return False
        if name == "help":
            self.say(HELP.format(k=self.k))
        elif name == "k":
            self.set_k(argument)
        elif name == "more":
            self.more()
        elif name == "full":
            self.full(argument)
        elif name == "sources":
            self.sources()
        elif name == "open":
            self.open(argument)
        elif name == "filter":
            self.set_filter(argument)
        elif name == "new":
            self.new()
        elif name == "reload":
            self.reload()
        else:
            self.say(f"未知命令 :{name}", style="red")
            self.say(HELP.format(k=self.k))
        return True

    def reload(self) -> None:
        if self.reloader is None:
            self.say("这个会话没有关联文档目录,无法重新载入。", style="red")
            return
        try:
            changes = self.reloader.check()
        except RetrievalError as error:
            self.say(f"索引更新失败,继续使用原索引: {error}", style="red")
            return
        self.notices.clear()
        if changes:
            self.say(f"文档已更新: {describe(changes)}。现有 {len(self.retriever.documents)} 篇文档。")
        else:
            self.say("文档目录没有变化。")

    def new(self) -> None:
        if self.conversation is not None:
            self.conversation.reset()
        self.question, self.answer, self.numbered = None, None, []
        self.say("好的,重新开始:下一个问题不再接着前面的问题理解。")

    def set_k(self, argument: str) -> None:
        argument = unicodedata.normalize("NFKC", argument)
        if not argument.isdigit() or not 1 <= int(argument) <= MAX_K:
            self.say(f"用法: :k N,N 为 1 到 {MAX_K} 的整数(现在是 {self.k})。", style="red")
            return
        self.k = int(argument)
        self.say(f"每次显示 {self.k} 段。")

    def more(self) -> None:
        if self.question is None or self.answer is None:
            self.say("还没有可以继续的问题:先提一个问题。")
            return
        if self.answer.outcome == Outcome.NO_ANSWER or not self.numbered:
            self.say("上一个问题在这些文档中没有答案,没有后续段落。可以换个说法再问,或用 :sources 查看有哪些文档。")
            return
        shown = len(self.numbered)
        hits = self.retriever.search(self.question, k=shown + self.k, filters=self.filters)
        # `ask` reorders its candidates, `search` keeps BM25's order: skip what was shown, wherever it ranks.
        seen = {(hit.citation.doc_id, hit.start) for hit in self.numbered}
        new = [hit for hit in hits if (hit.citation.doc_id, hit.start) not in seen][: self.k]
        if not new:
            self.say("没有更多相关段落了。")
            return
        self.console.print(render.rich_answer(self.answer, hits=new, first_number=shown + 1))
        self.numbered.extend(new)

    def _numbered_hit(self, command: str, argument: str) -> Hit | None:
        if not self.numbered:
            self.say("还没有显示过段落:先提一个问题。")
            return None
        argument = unicodedata.normalize("NFKC", argument)
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.numbered):
            self.say(f"用法: :{command} N,N 为 1 到 {len(self.numbered)} 之间的段落编号。", style="red")
            return None
        return self.numbered[int(argument) - 1]

    def full(self, argument: str) -> None:
        hit = self._numbered_hit("full", argument)
        if hit is not None:
            self.console.print(render.rich_context(self.retriever.context(hit)))

    def open(self, argument: str) -> None:
        """Where passage N is in its file, and those lines of the file, numbered."""
        hit = self._numbered_hit("open", argument)
        if hit is None:
            return
        folder = str(self.retriever.folder) if self.retriever.folder is not None else None
        self.console.print(render.rich_lines(hit.citation, self.retriever.lines(hit), folder))

    def set_filter(self, argument: str) -> None:
        if not argument:
            shown = self.filters.describe() if self.filters else "无(在全部文档中找答案)"
            self.say(f"当前筛选: {shown}")
            return
        if unicodedata.normalize("NFKC", argument).lower() in ("off", "clear", "none", "关", "取消"):
            self._use_filter(None)
            self.say("已取消筛选:在全部文档中找答案。")
            return
        try:
            filters = parse_filter(argument)
        except ParameterError as error:
            self.say(str(error), style="red")
            return
        self._use_filter(filters)
        allowed = [d for d in self.retriever.documents if filters.allows(d)]
        self.say(f"筛选: {filters.describe()}(符合的文档 {len(allowed)} 篇)。:filter off 取消。")

    def _use_filter(self, filters: Filter | None) -> None:
        """Questions from now on are answered under `filters`; a conversation goes on under them, afresh."""
        self.filters = filters
        if self.conversation is not None:
            self.conversation = self.retriever.conversation(filters)

    def sources(self) -> None:
        for document in self.retriever.documents:
            line = Text(f"{document.number}. ", style="bold")
            line.append_text(render.safe_text(render.document_line(document) + f" · {document.doc_id}"))
            line.append(f" · {document.passages} 段", style="dim")
            self.console.print(render.Wrapped(line))


def run_batch(session: Session, lines: Iterable[str]) -> int:
    """Answer every line of piped input, then stop; a line that cannot be answered is reported, not fatal."""
    failed = 0
    for number, line in enumerate(lines, start=1):
        line = clean_input(line)
        if not line:
            continue
        session.console.print(render.safe_text(f"{session.prompt}{line}", style="bold"))
        try:
            if not session.handle(line):
                break
        except RetrievalError as error:
            failed += 1
            session.say(f"第 {number} 行无法回答: {error}", style="red")
        session.console.print()
    if failed or session.failed:
        return ExitCode.USAGE
    return ExitCode.NO_ANSWER if session.unanswered else ExitCode.ANSWERED


def run_interactive(session: Session, history_file: Path) -> int:
    """The REPL proper, with line editing and history kept across runs."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory

    history: History
    try:
        history_file.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(history_file))
    except OSError:
        history = InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(history=history)
    documents = session.retriever.documents
    loaded = f"已载入 {len(documents)} 篇文档、{len(session.retriever)} 个段落。"
    session.say(loaded + "输入问题,:help 查看命令,Ctrl-D 退出。")
    failures = 0
    while True:
        try:
            line = prompt.prompt(session.prompt)
            failures = 0
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line
        except EOFError:
            break
        except Exception as error:  # noqa: BLE001 - a key sequence the line editor chokes on must not end the session
            failures += 1
            if failures > 3:
                raise
            session.say(f"这一行输入无法读取({type(error).__name__}),已忽略,请重新输入。", style="red")
            continue
        try:
            if not session.handle(line):
                break
        except KeyboardInterrupt:
            session.say("已中断。")
    session.say("再见。")
    return 0


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
