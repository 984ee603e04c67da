"""The API's paging styles as paginator objects, and the async iterators built on them.

- cursor (``CursorPaginator``): ``pageId`` (or ``nextPageId``) in the query, the next token in
  the body's ``nextPageId`` or in ``Link: <…>; rel="next"``;
- offset (``OffsetPaginator``): ``offset``/``limit`` until ``totalFound`` is reached or a page
  comes back short;
- single list: ``{totalFound, content}`` (or a bare list) in one answer (``items_of``).

A paginator owns its tokens, the position a walk resumes from (``CursorPosition``,
``OffsetPosition``: the checkpoint form, with ``dump``/``load``) and the checks that say whether a
walk saw every record. A walk that cannot prove it did ends early with a reason in its ``Walk``
(DESIGN invariant 10); the records it did receive are still good. Reasons are short lines that
name counts and page numbers only, never a record.

A page token the API refuses (400 ``INVALID_PAGE_ID``: a token it no longer knows, after a
restart of its side or once it expired) is marked in the ``Walk`` (``token_rejected``) before the
error is raised, so that a caller can tell it from any other 400 and restart the walk.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from syncd.ats.errors import BadRequestError

MAX_PAGE = 100

# The codes of a 400 that refuses a page token: the OpenAPI's INVALID_PAGE_ID ("pageId is
# incorrect", "provided page id is invalid", on /candidates, /jobs and the audit feed alike) is the
# only one SmartRecruiters documents (../shared/SMARTRECRUITERS.md, error bodies).
PAGE_TOKEN_CODES = frozenset({"INVALID_PAGE_ID"})

# (response, its decoded JSON body): the body is decoded once, where the answer is checked.
Fetch = Callable[[str, dict[str, Any]], Awaitable[tuple[httpx.Response, Any]]]


class CheckpointError(ValueError):
    """A stored position that this paginator cannot read (corrupt, another paging style, or
    written by another version of syncd); the message says what was wrong."""


@dataclass(frozen=True)
class CursorPosition:
    """Where a token walk resumes: the next page's token (None: the first page), the records
    received before it and the total its first page announced (None: no total given)."""

    token: str | None = None
    records: int = 0
    total: int | None = None


@dataclass(frozen=True)
class OffsetPosition:
    """Where an offset walk resumes: the next offset and the total its first page announced."""

    offset: int = 0
    total: int | None = None


Position = CursorPosition | OffsetPosition


@dataclass
class Page:
    """One page as received: ``items`` are the raw JSON objects, untouched. ``position`` is
    where a walk resumes after this page (set by a paginator's walk)."""

    items: list[dict[str, Any]]
    next_page_id: str | None = None
    total: int | None = None
    offset: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    position: Position | None = None

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class Walk:
    """The outcome of one walk, filled in while it runs: pages fetched and, when the walk cannot
    prove it saw every record, why (``incomplete``; the walk stops there)."""

    pages: int = 0
    incomplete: str | None = None
    # The error code of a 400 that refused the page token the walk sent (None: none refused).
    token_rejected: str | None = None

    @property
    def complete(self) -> bool:
        return self.incomplete is None


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


def rejected_token_code(exc: BaseException) -> str | None:
    """The code (one of ``PAGE_TOKEN_CODES``) when ``exc`` is a 400 refusing a page token."""
    if isinstance(exc, BadRequestError):
        return next((c for c in exc.codes if c in PAGE_TOKEN_CODES), None)
    return None


def _total_moved(first: int | None, now: int | None) -> str | None:
    if first is not None and now is not None and now != first:
        return f"the total changed from {first} to {now} during the walk"
    return None


def _int(data: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"'{name}' is not a count")
    return value


@dataclass(frozen=True)
class CursorPaginator:
    """Token paging (``pageId``/``nextPageId``). A walk is complete when a page comes without a
    next token, no token came twice (``"" -> A -> B -> A`` is a cycle), every page gave the
    total of the first (when the API gives one), and the records received reach that total.
    More records than the total is complete: the sandbox and the API append records created
    during a walk after every token."""

    token_param: str = "pageId"
    kind: ClassVar[str] = "cursor"

    def start(self) -> CursorPosition:
        return CursorPosition()

    def dump(self, pos: Position) -> dict[str, Any]:
        assert isinstance(pos, CursorPosition)
        return {"paging": self.kind, "token": pos.token, "records": pos.records, "total": pos.total}

    def load(self, data: Mapping[str, Any]) -> CursorPosition:
        if data.get("paging") != self.kind:
            raise CheckpointError(f"paging {data.get('paging')!r}, expected {self.kind!r}")
        token = data.get("token")
        if token is not None and not isinstance(token, str):
            raise CheckpointError("'token' is not a page token")
        return CursorPosition(token, _int(data, "records"), _int(data, "total", optional=True))

    async def pages(
        self,
        fetch: Fetch,
        path: str,
        params: Mapping[str, Any],
        *,
        start: Position | None = None,
        walk: Walk | None = None,
    ) -> AsyncIterator[Page]:
        """The pages from ``start``; ``walk`` receives the outcome. Raises the fetch's errors."""
        pos = start if isinstance(start, CursorPosition) else CursorPosition()
        walk = walk if walk is not None else Walk()
        query = {k: v for k, v in params.items() if v is not None}
        token, records, total = pos.token, pos.records, pos.total
        seen: set[str] = set() if token is None else {token}
        while True:
            if token is not None:
                query[self.token_param] = token
            try:
                response, body = await fetch(path, dict(query))
            except BadRequestError as exc:
                if token is not None:  # only a request that carried a token can have it refused
                    walk.token_rejected = rejected_token_code(exc)
                raise
            walk.pages += 1
            nxt = body.get("nextPageId") if isinstance(body, dict) else None
            nxt = nxt or next_from_link(response.headers.get("link"), self.token_param)
            items = items_of(body)
            page_total = total_of(body)
            moved = _total_moved(total, page_total)
            if total is None:
                total = page_total
            records += len(items)
            here = CursorPosition(nxt, records, total)
            yield Page(
                items, nxt, page_total, raw=body if isinstance(body, dict) else {}, position=here
            )
            short = total is not None and records < total
            if moved:
                walk.incomplete = moved
            elif nxt and nxt in seen:
                walk.incomplete = f"page token repeated after {walk.pages} pages (a cycle)"
            elif not nxt and short:
                walk.incomplete = f"the listing ended after {records} of {total} records"
            elif nxt and not items and short:
                walk.incomplete = f"an empty page after {records} of {total} records"
            if walk.incomplete or not nxt:
                return
            seen.add(nxt)
            token = nxt


@dataclass(frozen=True)
class OffsetPaginator:
    """``offset``/``limit`` paging. A walk is complete when the offset reaches the total of the
    first page and no page gave another total (records that appear or vanish during the walk
    shift every later page: a total that moves means a record may have been skipped), or, when
    the API gives no total, when a page comes back short."""

    limit_param: str = "limit"
    offset_param: str = "offset"
    kind: ClassVar[str] = "offset"

    def start(self) -> OffsetPosition:
        return OffsetPosition()

    def dump(self, pos: Position) -> dict[str, Any]:
        assert isinstance(pos, OffsetPosition)
        return {"paging": self.kind, "offset": pos.offset, "total": pos.total}

    def load(self, data: Mapping[str, Any]) -> OffsetPosition:
        if data.get("paging") != self.kind:
            raise CheckpointError(f"paging {data.get('paging')!r}, expected {self.kind!r}")
        return OffsetPosition(_int(data, "offset"), _int(data, "total", optional=True))

    async def pages(
        self,
        fetch: Fetch,
        path: str,
        params: Mapping[str, Any],
        *,
        start: Position | None = None,
        walk: Walk | None = None,
        limit: int = MAX_PAGE,
    ) -> AsyncIterator[Page]:
        """The pages from ``start``; ``walk`` receives the outcome. ``limit`` is the page size
        unless ``params`` gives one. Raises the fetch's errors."""
        pos = start if isinstance(start, OffsetPosition) else OffsetPosition()
        walk = walk if walk is not None else Walk()
        query = {k: v for k, v in params.items() if v is not None}
        limit = int(query.get(self.limit_param, limit))
        offset, total = pos.offset, pos.total
        while True:
            query.update({self.limit_param: limit, self.offset_param: offset})
            _, body = await fetch(path, dict(query))
            walk.pages += 1
            items = items_of(body)
            page_total = total_of(body)
            moved = _total_moved(total, page_total)
            if total is None:
                total = page_total
            at = offset
            offset += len(items)
            here = OffsetPosition(offset, total)
            yield Page(
                items,
                None,
                page_total,
                at,
                raw=body if isinstance(body, dict) else {},
                position=here,
            )
            if moved:
                walk.incomplete = moved + f" (offset paging, at offset {at})"
                return
            if total is not None and offset >= total:
                return
            if len(items) < limit:
                if total is not None:
                    walk.incomplete = f"a short page at offset {at} of a total of {total}"
                return


Paginator = CursorPaginator | OffsetPaginator


async def cursor_pages(
    fetch: Fetch,
    path: str,
    params: Mapping[str, Any],
    *,
    token_param: str = "pageId",
    start: str | None = None,
) -> AsyncIterator[Page]:
    """Token pages from the page ``start`` (a token) until the listing ends or cannot be
    trusted further (a repeated token would loop forever)."""
    pos = CursorPosition(start) if start is not None else None
    async for page in CursorPaginator(token_param).pages(fetch, path, params, start=pos):
        yield page


async def offset_pages(
    fetch: Fetch, path: str, params: Mapping[str, Any], *, limit: int, offset: int = 0
) -> AsyncIterator[Page]:
    """Offset pages from ``offset`` until the total is reached or a page comes back short."""
    pos = OffsetPosition(offset) if offset else None
    async for page in OffsetPaginator().pages(fetch, path, params, start=pos, limit=limit):
        yield page
