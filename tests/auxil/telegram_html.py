"""Checks that a text parses as Telegram HTML: only the tags Telegram allows, well nested, valid entities."""

from __future__ import annotations

import re
from html.parser import HTMLParser

ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "blockquote", "span", "tg-emoji"}
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.errors.append(f"tag <{tag}> is not allowed")
        if tag == "a" and not dict(attrs).get("href"):
            self.errors.append("<a> without href")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
        else:
            self.stack.pop()


def telegram_html_errors(text: str) -> list[str]:
    errors = []
    for match in re.finditer(r"&", text):
        if not ENTITY.match(text, match.start()):
            errors.append(f"bare & at {match.start()}: {text[match.start():match.start() + 10]!r}")
    if re.search(r"<(?![a-zA-Z/])", text):
        errors.append("bare <")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    errors += checker.errors
    if checker.stack:
        errors.append(f"unclosed {checker.stack}")
    return errors
