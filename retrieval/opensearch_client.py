"""Talking to an OpenSearch cluster: the client, and its failures as messages a user can act on.

`opensearch-py` is an optional dependency (`pip install "zhdocqa[opensearch]"`);
it is imported only when a cluster is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import BackendError

T = TypeVar("T")
# 429: the cluster is too busy for now; 502-504: a node or proxy in trouble. All pass.
RETRY_ON_STATUS = (429, 502, 503, 504)
DEFAULT_TIMEOUT = 30.0


def shown_url(url: str) -> str:
    """`url` without its user and password: the only form that appears in messages and logs."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def connect(url: str, timeout: float = DEFAULT_TIMEOUT, retries: int = 3) -> Any:
    """A client for the cluster at `url` (user and password may be in the URL)."""
    try:
        from opensearchpy import OpenSearch
    except ImportError:
        raise BackendError(
            '使用 OpenSearch 需要 opensearch-py:请运行 pip install "zhdocqa[opensearch]"'
            "(或 pip install opensearch-py)。"
        ) from None
    # The client logs every non-2xx answer at WARNING, expected 404s included;
    # failures reach the user once, as a BackendError.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    return OpenSearch(
        hosts=[url],
        timeout=timeout,
        max_retries=retries,
        retry_on_status=RETRY_ON_STATUS,
        retry_on_timeout=True,
        http_compress=False,
    )


def call(url: str, what: str, request: Callable[[], T]) -> T:
    """Run one request; turn the client's exceptions into a BackendError saying what to do."""
    from opensearchpy import exceptions

    where = shown_url(url)
    try:
        return request()
    except exceptions.AuthenticationException:
        raise BackendError(
            f"OpenSearch {where} 拒绝了认证(401),{what}失败:请在 URL 中给出正确的用户名和密码"
            "(https://用户:密码@主机:9200)。"
        ) from None
    except exceptions.AuthorizationException as error:
        raise BackendError(
            f"OpenSearch {where} 不允许此操作(403),{what}失败: {_reason(error)}。请检查该用户的权限。"
        ) from None
    except exceptions.NotFoundError as error:
        raise BackendError(f"OpenSearch {where} 中找不到所需的索引,{what}失败: {_reason(error)}。") from None
    except exceptions.ConnectionError as error:
        raise BackendError(
            f"无法连接 OpenSearch {where},{what}失败: {type(error.info).__name__}。请检查地址和网络,或稍后再试。"
        ) from None
    except exceptions.TransportError as error:
        status = error.status_code
        if status in RETRY_ON_STATUS:
            hint = "集群繁忙或暂时不可用,已重试多次;请稍后再试。"
        elif isinstance(status, int) and status >= 500:
            hint = "集群内部出错;请查看集群日志。"
        else:
            hint = "请检查请求和集群日志。"
        raise BackendError(f"OpenSearch {where} 返回错误 {status},{what}失败: {_reason(error)}。{hint}") from None


def _reason(error: Any) -> str:
    info = getattr(error, "info", None)
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        detail = info["error"]
        return f"{detail.get('type', '')}: {detail.get('reason', '')}".strip(": ")
    if isinstance(info, dict) and "error" in info:
        return str(info["error"])
    return str(getattr(error, "error", error))
