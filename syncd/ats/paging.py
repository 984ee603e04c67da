"""The API's three paging styles as async iterators of ``Page``.

- cursor: ``pageId`` (or ``nextPageId``/``page_id``) in the query, the next cursor in the body's
  ``nextPageId`` or in ``Link: <…>; rel="next"``;
- offset: ``offset``/``limit`` until ``totalFound`` is reached or a page comes back short;
- single list: ``{totalFound, content}`` (or a bare list) in one answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

MAX_PAGE = 100

# (response, its decoded JSON body): the body is decoded once, where the answer is checked.
Fetch = Callable[[str, dict[str, Any]], Awaitable[tuple[httpx.Response, Any]]]


@dataclass
class Page:
    """One page as received: ``items`` are the raw JSON objects, untouched."""

    items: list[dict[str, Any]]
    next_page_id: str | None = None
    total: int | None = None
    offset: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.items)


_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_from_link(link: str | None, token_param: str) -> str | None:
    if not link:
        return None
    m = _LINK.search(link)
    if not m:
        return None
    values = parse_qs(urlsplit(m.group(1)).query).get(token_param)
    return values[-1] if values else None


def items_of(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        content = body.get("content")
        if isinstance(content, list):
            return content
        for key in ("items", "data", "results"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return []


def total_of(body: Any) -> int | None:
    if isinstance(body, dict) and isinstance(body.get("totalFound"), int):
        return int(body["totalFound"])
    return None


async def cursor_pages(
    fetch: Fetch,
    path: str,
    params: Mapping[str, Any],
    *,
    token_param: str = "pageId",
    start: str | None = None,
) -> AsyncIterator[Page]:
    query = {k: v for k, v in params.items() if v is not None}
    token = start
    seen: set[str] = set()
    while True:
        if token is not None:
            query[token_param] = token
        response, body = await fetch(path, dict(query))
        nxt = body.get("nextPageId") if isinstance(body, dict) else None
        nxt = nxt or next_from_link(response.headers.get("link"), token_param)
        items = items_of(body)
        yield Page(items, nxt, total_of(body), raw=body if isinstance(body, dict) else {})
        if not nxt or nxt in seen:  # a repeated cursor would loop forever
            return
        seen.add(nxt)
        token = nxt


async def offset_pages(
    fetch: Fetch, path: str, params: Mapping[str, Any], *, limit: int, offset: int = 0
) -> AsyncIterator[Page]:
    query = {k: v for k, v in params.items() if v is not None}
    while True:
        query.update(limit=limit, offset=offset)
        _, body = await fetch(path, dict(query))
        items = items_of(body)
        total = total_of(body)
        yield Page(items, None, total, offset, raw=body if isinstance(body, dict) else {})
        offset += len(items)
        if len(items) < limit or not items or (total is not None and offset >= total):
            return
