"""The API's three paging styles, built so that a crawl sees each record once while records change.

Cursor paging walks an append-only creation order: a new record lands after every cursor, an
updated record keeps its place, and a deleted one is skipped. The page token carries the position,
the total counted on the first page (so a page costs the same at the end of a crawl as at the
start) and a fingerprint of the filters it was issued for and of the sandbox's token epoch.

``POST /_sandbox/page-tokens`` moves the epoch (every token issued before is refused with 400
``INVALID_PAGE_ID``, as after a restart of the API's side or once a token expired) or makes the
sandbox refuse every token it is sent. The gate hands each request the sandbox's policy
(``TOKENS``), so the routes' own token checks apply it.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from syncd.sandbox.errors import ApiError, bad_request

T = TypeVar("T")


class OrderIndex(Generic[T]):
    """Keys in creation order; lookups go through ``store`` so deleted keys drop out."""

    def __init__(self, store: dict[str, T]) -> None:
        self.store = store
        self.keys: list[str] = []

    def append(self, key: str) -> None:
        self.keys.append(key)

    def __len__(self) -> int:
        return len(self.store)

    def iter_from(self, position: int) -> Iterable[tuple[int, T]]:
        keys, store = self.keys, self.store
        for i in range(position, len(keys)):
            item = store.get(keys[i])
            if item is not None:
                yield i, item


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(
            "INVALID_PARAMETER", f"Query parameter '{name}' must be an integer, got '{raw}'"
        ) from None
    if not lo <= value <= hi:
        raise bad_request(
            "INVALID_PARAMETER", f"Query parameter '{name}' must be between {lo} and {hi}"
        )
    return value


@dataclass(frozen=True)
class TokenPolicy:
    """``epoch``: tokens of another epoch are refused; ``refuse_all``: every token is."""

    epoch: int = 0
    refuse_all: bool = False


# The policy of the sandbox serving the current request (set by the gate, per request).
TOKENS: ContextVar[TokenPolicy] = ContextVar("sandbox_page_tokens")
NO_POLICY = TokenPolicy()  # outside a request (unit tests of the routes' helpers)


def _policy() -> TokenPolicy:
    return TOKENS.get(NO_POLICY)


def _fingerprint(filters: str) -> int:
    epoch = _policy().epoch  # 0: the tokens of a sandbox that never forgot any, as before
    return zlib.crc32((f"{epoch}|{filters}" if epoch else filters).encode())


def encode_token(position: int, total: int, filters: str) -> str:
    raw = f"{position}.{total}.{_fingerprint(filters)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, filters: str) -> tuple[int, int]:
    if _policy().refuse_all:
        raise invalid_page_id()
    try:
        padded = token + "=" * (-len(token) % 4)
        pos_s, total_s, fp_s = base64.urlsafe_b64decode(padded).decode().split(".")
        position, total, fp = int(pos_s), int(total_s), int(fp_s)
    except (ValueError, UnicodeDecodeError):
        raise invalid_page_id() from None
    if position < 0 or total < 0 or fp != _fingerprint(filters):
        raise invalid_page_id()
    return position, total


def invalid_page_id() -> ApiError:
    return bad_request("INVALID_PAGE_ID", "Page id is invalid or does not match the query")


def cursor_page(
    request: Request,
    index: OrderIndex[T],
    *,
    keep: Callable[[T], bool] | None,
    render: Callable[[T], dict[str, Any]],
    limit: int,
    filters: str,
    token_param: str = "pageId",
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page: (items, totalFound, next token or None)."""
    token = request.query_params.get(token_param)
    if token:
        start, total = decode_token(token, filters)
        if start > len(index.keys):
            raise invalid_page_id()
    else:
        start = 0
        total = (
            len(index) if keep is None else sum(1 for _, item in index.iter_from(0) if keep(item))
        )
    content: list[dict[str, Any]] = []
    next_pos: int | None = None
    for pos, item in index.iter_from(start):
        if keep is not None and not keep(item):
            continue
        if len(content) == limit:
            next_pos = pos
            break
        content.append(render(item))
    next_token = encode_token(next_pos, total, filters) if next_pos is not None else None
    return content, total, next_token


def next_link(request: Request, token_param: str, token: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != token_param]
    params.append((token_param, token))
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'


def filters_key(request: Request, *exclude: str) -> str:
    skip = {"pageId", "page_id", "nextPageId", "limit", *exclude}
    return "&".join(
        f"{k}={v}" for k, v in sorted(request.query_params.multi_items()) if k not in skip
    )
