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
from retrieval import Answer, Outcome, QuestionError, Retriever

HELP = """命令:
  直接输入问题       用中文提问,例如: 阿里巴巴花了多少钱入股新浪微博?
  :k N              每次显示 N 段(1-20,现在是 {k})
  :more             上一个问题的后续段落
  :full N           第 N 段所在的整段原文及前后各一段
  :sources          文档列表(标题、来源、日期、段落数)
  :help             显示本帮助
  :quit             退出(也可以按 Ctrl-D);Ctrl-C 清空当前输入"""

MAX_K = 20
PROMPT = "问> "


_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def clean_input(line: str) -> str:
    """The line without terminal escape sequences or control characters (a paste can carry them)."""
    line = _ESCAPE_SEQUENCE.sub("", line)
    return "".join(c for c in line if unicodedata.category(c) != "Cc" or c == "\n").strip()


@dataclass
class Session:
    """What the REPL remembers between lines."""

    retriever: Retriever
    console: Console
    k: int = 5
    question: str | None = None
    answer: Answer | None = None
    numbered: list = field(default_factory=list)  # every hit printed for the last question, in order

    # -- one line -----------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Act on one line; False when the person asked to quit."""
        line = clean_input(line)
        if not line:
            self.say("请输入问题,或输入 :help 查看命令。")
            return True
        if line.startswith((":", ":")):
            return self.command(line[1:].strip())
        self.ask(line)
        return True

    def say(self, message: str, style: str | None = None) -> None:
        self.console.print(Text(message, style=style))

    def ask(self, question: str) -> None:
        try:
            answer = self.retriever.ask(question, k=self.k)
        except QuestionError as error:
            self.say(str(error), style="red")
            return
        self.question, self.answer = question, answer
        self.numbered = list(answer.hits) if answer.outcome != Outcome.NO_ANSWER else []
        self.console.print(render.rich_answer(answer))

    def command(self, text: str) -> bool:
        name, _, argument = text.partition(" ")
        name, argument = name.lower(), argument.strip()
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
        else:
            self.say(f"未知命令 :{name}", style="red")
            self.say(HELP.format(k=self.k))
        return True

    def set_k(self, argument: str) -> None:
        if not argument.isdigit() or not 1 <= int(argument) <= MAX_K:
            self.say(f"用法: :k N,N 为 1 到 {MAX_K} 的整数(现在是 {self.k})。", style="red")
            return
        self.k = int(argument)
        self.say(f"每次显示 {self.k} 段。")

    def more(self) -> None:
        if self.question is None or self.answer is None or not self.numbered:
            self.say("还没有可以继续的问题:先提一个问题。")
            return
        shown = len(self.numbered)
        hits = self.retriever.search(self.question, k=shown + self.k)
        new = hits[shown:]
        if not new:
            self.say("没有更多相关段落了。")
            return
        self.console.print(render.rich_answer(self.answer, hits=new, first_number=shown + 1))
        self.numbered.extend(new)

    def full(self, argument: str) -> None:
        if not self.numbered:
            self.say("还没有显示过段落:先提一个问题。")
            return
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.numbered):
            self.say(f"用法: :full N,N 为 1 到 {len(self.numbered)} 之间的段落编号。", style="red")
            return
        self.console.print(render.rich_context(self.retriever.context(self.numbered[int(argument) - 1])))

    def sources(self) -> None:
        for document in self.retriever.documents:
            self.console.print(
                Text(f"{document.number}. ", style="bold"),
                Text(render.document_line(document)),
                Text(f" · {document.passages} 段", style="dim"),
                sep="",
            )


def run_batch(session: Session, lines: Iterable[str]) -> int:
    """Answer every line of piped input, then stop."""
    for line in lines:
        line = clean_input(line)
        if not line:
            continue
        session.console.print(Text(f"{PROMPT}{line}", style="bold"))
        if not session.handle(line):
            break
        session.console.print()
    return 0


def run_interactive(session: Session, history_file: Path) -> int:
    """The REPL proper, with line editing and history kept across runs."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        history_file.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(history_file))
    except OSError:
        history = InMemoryHistory()
    prompt = PromptSession(history=history)
    documents = session.retriever.documents
    session.say(f"已载入 {len(documents)} 篇文档、{len(session.retriever)} 个段落。输入问题,:help 查看命令,Ctrl-D 退出。")
    while True:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line
        except EOFError:
            break
        try:
            if not session.handle(line):
                break
        except KeyboardInterrupt:
            session.say("已中断。")
    session.say("再见。")
    return 0


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
