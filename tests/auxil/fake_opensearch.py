"""A stand-in OpenSearch on 127.0.0.1 that replays recorded exchanges, in order.

Each `Exchange` is one request the backend is expected to make (method, path,
query parameters) and the response the cluster gives (status and body, in the
shapes the OpenSearch documentation gives). Every request is also checked
against the API's documented shapes (tests/auxil/opensearch_shapes.py) and by
the exchange's own `check` of its body. Anything unexpected is recorded in
`errors` and answered with a 500, so a test fails on it, never hangs.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.auxil.opensearch_shapes import problems


@dataclass
class Exchange:
    method: str
    path: str  # a regular expression matched against the whole path
    status: int = 200
    response: Any = field(default_factory=dict)  # a JSON value, a str, or a function of the request body
    query: dict[str, str] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None  # asserts on the parsed request body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


class FakeOpenSearch:
    def __init__(self, exchanges: list[Exchange]) -> None:
        self.exchanges = list(exchanges)
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def pending(self) -> list[Exchange]:
        return self.exchanges

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(Request(handler.command, parts.path, query, _parsed(raw), handler.headers.get("Authorization")))
            found = problems(handler.command, parts.path, query, raw)
            if not self.exchanges:
                found.append(f"unexpected request {handler.command} {handler.path}")
                exchange = None
            else:
                exchange = self.exchanges.pop(0)
                if exchange.method != handler.command or not re.fullmatch(exchange.path, parts.path):
                    found.append(f"expected {exchange.method} {exchange.path}, got {handler.command} {parts.path}")
                if exchange.query != query:
                    found.append(f"{handler.command} {parts.path}: query {query}, expected {exchange.query}")
                if exchange.check is not None and not found:
                    try:
                        exchange.check(_parsed(raw))
                    except AssertionError as error:
                        found.append(f"{handler.command} {parts.path}: {error}")
            self.errors.extend(found)
        if found or exchange is None:
            self._reply(handler, 500, {"error": {"type": "test_failure", "reason": "; ".join(found)}, "status": 500}, {})
            return
        response = exchange.response(_parsed(raw)) if callable(exchange.response) else exchange.response
        self._reply(handler, exchange.status, response, exchange.headers)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)


def _parsed(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def error_body(status: int, kind: str, reason: str, **extra: Any) -> dict:
    """An error response as OpenSearch shapes it."""
    cause = {"type": kind, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def bulk_response(body: list, statuses: Callable[[str], int] = lambda _id: 201) -> dict:
    """The bulk API's answer to `body` (action, document pairs): one item per action, in order."""
    items = []
    for action in body[0::2]:
        ((kind, meta),) = action.items()
        status = statuses(meta["_id"])
        item: dict[str, Any] = {"_index": "x", "_id": meta["_id"], "status": status}
        if status >= 300:
            kind_name = "es_rejected_execution_exception" if status == 429 else "mapper_parsing_exception"
            item["error"] = {"type": kind_name, "reason": f"rejected {meta['_id']}"}
        else:
            item.update({"_version": 1, "result": "created", "_shards": {"total": 1, "successful": 1, "failed": 0}})
        items.append({kind: item})
    return {"took": 3, "errors": any(next(iter(i.values()))["status"] >= 300 for i in items), "items": items}
