"""Paginators: their completeness checks, their checkpoint form, and the typed checkpoints of a
pass (no network: the fetch is a function over crafted bodies)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncd.ats.paging import (
    CursorPaginator,
    CursorPosition,
    OffsetPaginator,
    OffsetPosition,
    Walk,
)
from syncd.mirror import schema as s
from syncd.mirror.fit import Unstorable, fit
from syncd.sync import checkpoints as ck
from syncd.sync.catalogue import AUDIT, CANDIDATES, EPOCH, OFFERS


def walk_cursor(bodies: dict[str, Any], start: CursorPosition | None = None) -> tuple[Any, Walk]:
    asked: list[str] = []

    async def fetch(path: str, query: dict[str, Any]) -> tuple[httpx.Response, Any]:
        token = query.get("pageId", "")
        asked.append(token)
        return httpx.Response(200), bodies[token]

    async def go() -> list[Any]:
        return [p async for p in CursorPaginator().pages(fetch, "/x", {}, start=start, walk=w)]

    w = Walk()
    pages = asyncio.run(go())
    return [(len(p.items), p.position) for p in pages], w


def body(n: int, nxt: str | None, total: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"content": [{"id": str(i)} for i in range(n)]}
    if nxt:
        out["nextPageId"] = nxt
    if total is not None:
        out["totalFound"] = total
    return out


def test_a_cursor_walk_is_complete_when_it_reaches_the_total() -> None:
    pages, w = walk_cursor({"": body(2, "A", 4), "A": body(2, None, 4)})
    assert w.complete and w.pages == 2
    assert [p for _, p in pages] == [CursorPosition("A", 2, 4), CursorPosition(None, 4, 4)]


@pytest.mark.parametrize(
    ("bodies", "reason"),
    [
        (
            {"": body(2, "A", 6), "A": body(2, "B", 6), "B": body(2, "A", 6)},
            "page token repeated after 3 pages (a cycle)",
        ),
        ({"": body(2, "A", 6), "A": body(2, None, 6)}, "the listing ended after 4 of 6 records"),
        ({"": body(2, "A", 6), "A": body(0, "B", 6)}, "an empty page after 2 of 6 records"),
        (
            {"": body(2, "A", 6), "A": body(2, "B", 7)},
            "the total changed from 6 to 7 during the walk",
        ),
        (
            {"": body(2, "A", 6), "A": body(2, "A", 6)},
            "page token repeated after 2 pages (a cycle)",
        ),
    ],
)
def test_a_cursor_walk_that_cannot_prove_it_saw_everything(
    bodies: dict[str, Any], reason: str
) -> None:
    _, w = walk_cursor(bodies)
    assert w.incomplete == reason


def test_a_resumed_cursor_walk_counts_on_from_its_checkpoint() -> None:
    bodies = {"A": body(2, None, 6)}
    _, w = walk_cursor(bodies, CursorPosition("A", 2, 6))
    assert w.incomplete == "the listing ended after 4 of 6 records"
    _, w = walk_cursor(bodies, CursorPosition("A", 4, 6))
    assert w.complete
    # A cycle back to the token it resumed at is a cycle.
    _, w = walk_cursor({"A": body(2, "A")}, CursorPosition("A", 0, None))
    assert w.incomplete == "page token repeated after 1 pages (a cycle)"


def test_offset_walks() -> None:
    def run(totals: list[int], sizes: list[int]) -> tuple[list[Any], Walk]:
        calls = iter(zip(totals, sizes, strict=True))

        async def fetch(path: str, query: dict[str, Any]) -> tuple[httpx.Response, Any]:
            total, size = next(calls)
            return httpx.Response(200), {"totalFound": total, "content": [{}] * size}

        async def go(w: Walk) -> list[Any]:
            p = OffsetPaginator()
            return [x.position async for x in p.pages(fetch, "/o", {"limit": 2}, walk=w)]

        w = Walk()
        return asyncio.run(go(w)), w

    positions, w = run([5, 5, 5], [2, 2, 1])
    assert w.complete and positions[-1] == OffsetPosition(5, 5)
    _, w = run([5, 4], [2, 2])
    assert (
        w.incomplete == "the total changed from 5 to 4 during the walk (offset paging, at offset 2)"
    )
    _, w = run([5, 5], [2, 1])
    assert w.incomplete == "a short page at offset 2 of a total of 5"
    _, w = run([0], [0])
    assert w.complete


def test_checkpoints_are_typed_per_phase() -> None:
    cursor, offset = CANDIDATES.paginator, OFFERS.paginator
    walk = ck.WalkCheckpoint(CursorPosition("T1", 100, 900))
    assert ck.load("candidates", cursor, ck.dump(cursor, walk)) == walk
    after = ck.FollowUpsCheckpoint(("offer_rechecks",), None)
    assert ck.load("offers", offset, ck.dump(offset, after)) == after
    assert ck.load("offers", offset, None) is None
    # One paginator's position is never read as another's: a clear error names the fix.
    with pytest.raises(ck.UnreadableCheckpoint, match="paging 'cursor', expected 'offset'") as e:
        ck.load("offers", offset, ck.dump(cursor, walk))
    assert "syncd backfill --restart --resources offers" in str(e.value)
    for text, why in [
        ("<walked>", "not a syncd checkpoint"),
        ("12", "checkpoint version None"),
        ('{"v": 9, "phase": "walk"}', "checkpoint version 9"),
        ('{"v": 1, "phase": "dance"}', "unknown phase 'dance'"),
        ('{"v": 1, "phase": "walk", "paging": "offset", "offset": "7"}', "'offset' is not a count"),
        ('{"v": 1, "phase": "followups", "done": "x"}', "'done' is not a list"),
    ]:
        with pytest.raises(ck.UnreadableCheckpoint, match=why):
            ck.load("offers", offset, text)


def test_a_restarted_walk_keeps_when_it_restarted_in_both_phases() -> None:
    cursor = CANDIDATES.paginator
    at = datetime(2026, 11, 29, 19, 26, 17, 697545)  # naive UTC, as the engine's clock
    walk = ck.WalkCheckpoint(CursorPosition(None, 0, None), at)
    assert '"seen_from":"2026-11-29T19:26:17.697545"' in ck.dump(cursor, walk)
    assert ck.load("candidates", cursor, ck.dump(cursor, walk)) == walk
    after = ck.FollowUpsCheckpoint(("details",), None, at)
    assert ck.load("candidates", cursor, ck.dump(cursor, after)) == after
    # Without a restart the key is absent: the checkpoints of earlier versions read the same.
    assert "seen_from" not in ck.dump(cursor, ck.WalkCheckpoint(CursorPosition("T", 1, 2)))
    for bad in ('"yesterday"', "7", '"2026-11-29T19:26:17+00:00"'):
        text = f'{{"v": 1, "phase": "followups", "done": [], "seen_from": {bad}}}'
        with pytest.raises(ck.UnreadableCheckpoint, match="'seen_from' is not a time"):
            ck.load("candidates", cursor, text)


def test_a_refused_token_is_marked_only_on_a_request_that_carried_one() -> None:
    """400 INVALID_PAGE_ID on a request with a token marks the walk (the engine restarts it);
    on the first page (no token) it is an ordinary error; another 400 code marks nothing."""
    from syncd.ats.errors import BadRequestError

    def refuse(code: str) -> BadRequestError:
        return BadRequestError(
            "bad", method="GET", path="/x", status=400, errors=[{"code": code, "message": "m"}]
        )

    def walk_until(fail_on: str, code: str, start: CursorPosition | None) -> Walk:
        async def fetch(path: str, query: dict[str, Any]) -> tuple[httpx.Response, Any]:
            token = query.get("pageId", "")
            if token == fail_on:
                raise refuse(code)
            return httpx.Response(200), body(2, "A", 4)

        async def go() -> None:
            async for _ in CursorPaginator().pages(fetch, "/x", {}, start=start, walk=w):
                pass

        w = Walk()
        with pytest.raises(BadRequestError):
            asyncio.run(go())
        return w

    assert walk_until("A", "INVALID_PAGE_ID", None).token_rejected == "INVALID_PAGE_ID"
    resumed = walk_until("A", "INVALID_PAGE_ID", CursorPosition("A", 2, 4))
    assert (resumed.token_rejected, resumed.pages) == ("INVALID_PAGE_ID", 0)
    assert walk_until("", "INVALID_PAGE_ID", None).token_rejected is None
    assert walk_until("A", "INVALID_PARAMETER", None).token_rejected is None


def test_the_incremental_spec_is_applied_as_declared() -> None:
    cur = datetime(2024, 5, 1, tzinfo=UTC)
    assert CANDIDATES.incremental.params(cur) == {"updatedAfter": cur - timedelta(milliseconds=1)}
    assert CANDIDATES.incremental.params(None) == {}
    assert OFFERS.incremental.params(cur) == {"createdAfter": cur}  # the API's filter is >=
    assert AUDIT.incremental.params(None) == {"eventDateAfter": EPOCH}


def test_fit_nulls_what_a_typed_column_cannot_hold_and_refuses_a_key() -> None:
    row = {"id": "c1", "country_code": "X" * 9, "city": "Y" * 500, "consent_status": None}
    fit(s.candidates, [row])
    assert (row["country_code"], row["city"]) == (None, "Y" * 500)  # Text has no length
    with pytest.raises(Unstorable, match=r"candidates\.id holds 65 characters, the column 64"):
        fit(s.candidates, [{"id": "c" * 65}])
    h = {"job_id": "j", "ordinal": 2**31}
    with pytest.raises(Unstorable, match=r"job_status_history\.ordinal holds an integer beyond"):
        fit(s.job_status_history, [h])
