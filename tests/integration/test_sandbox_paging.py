"""The sandbox's three paging styles over real HTTP, checked against the tenant's truth.

The central property: a cursor crawl of ``GET /candidates`` while records are added, updated and
deleted between pages sees every record that existed for the whole crawl exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options

AUDIT = "/audit-api/v201910/audit-events"


@pytest.fixture
def client(open_sandbox: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=open_sandbox.base_url, headers={"X-SmartToken": TOKEN}, timeout=30
    ) as c:
        yield c


def candidate_ids(c: httpx.Client) -> set[str]:
    snap = c.get("/_sandbox/snapshot", params={"include": "candidates,applications"}).json()
    # The API lists only candidates with at least one application.
    return {a["candidateId"] for a in snap["applications"].values()}


def test_crawl_10k_candidates_while_records_change() -> None:
    srv = serve_in_thread(
        sandbox_options(candidates=10_000, jobs=30, limits=LimitConfig(enabled=False))
    )
    try:
        with httpx.Client(base_url=srv.base_url, headers={"X-SmartToken": TOKEN}, timeout=60) as c:
            before = candidate_ids(c)
            seen: list[str] = []
            totals: set[int] = set()
            kinds: dict[str, int] = {}
            created: set[str] = set()
            params: dict[str, Any] = {"limit": 100}
            pages = 0
            while True:
                r = c.get("/candidates", params=params)
                assert r.status_code == 200, r.text
                body = r.json()
                pages += 1
                seen += [x["id"] for x in body["content"]]
                totals.add(body["totalFound"])
                if "nextPageId" not in body:
                    assert "link" not in r.headers
                    break
                assert body["nextPageId"] in r.headers["link"]
                params["pageId"] = body["nextPageId"]
                # Change the tenant between every two pages: applies, moves, updates, deletes.
                done = c.post("/_sandbox/activity", json={"steps": 25}).json()["steps"]
                for step in done:
                    kinds[step["kind"]] = kinds.get(step["kind"], 0) + 1
                    if step["kind"] == "apply":
                        created.add(step["candidateId"])
            after = candidate_ids(c)
    finally:
        srv.stop()
    assert len(before) == 10_000
    assert pages >= 100
    # The churn was real: every kind of change happened during the crawl.
    assert {"apply", "advance", "update", "delete"} <= set(kinds), kinds
    assert kinds["delete"] > 0 and len(after - before) > 0
    assert len(seen) == len(set(seen)), "a record was seen twice"
    lived_through = before & after
    missing = lived_through - set(seen)
    assert not missing, f"{len(missing)} records that existed all along were not seen"
    assert set(seen) <= before | created, "the crawl returned a record that never existed"
    # totalFound is counted on the first page and carried by the cursor.
    assert totals == {10_000}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_candidate_limit_bounds(client: httpx.Client, limit: str) -> None:
    r = client.get("/candidates", params={"limit": limit})
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == "INVALID_PARAMETER" and "'limit'" in err["message"]


@pytest.mark.parametrize("limit", [1, 100])
def test_candidate_limit_edges_are_accepted(client: httpx.Client, limit: int) -> None:
    body = client.get("/candidates", params={"limit": limit}).json()
    assert body["limit"] == limit and len(body["content"]) == limit


@pytest.mark.parametrize("token", ["garbage!", "AAAA", "MTAuMTAuMQ", "-1"])
def test_garbage_page_id_is_invalid_page_id(client: httpx.Client, token: str) -> None:
    r = client.get("/candidates", params={"pageId": token})
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "INVALID_PAGE_ID"


def test_page_id_reused_with_other_filters_is_rejected(client: httpx.Client) -> None:
    first = client.get("/candidates", params={"limit": 10}).json()
    token = first["nextPageId"]
    assert client.get("/candidates", params={"limit": 10, "pageId": token}).status_code == 200
    # A different page size is not a different query.
    assert client.get("/candidates", params={"limit": 50, "pageId": token}).status_code == 200
    r = client.get("/candidates", params={"limit": 10, "pageId": token, "status": "HIRED"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "INVALID_PAGE_ID"


def test_filtered_crawl_matches_the_tenant(client: httpx.Client) -> None:
    snap = client.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    want = {a["candidateId"] for a in snap["applications"].values() if a["status"] == "HIRED"}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7, "status": "HIRED"}
    while True:
        body = client.get("/candidates", params=params).json()
        assert body["totalFound"] == len(want)
        seen += [x["id"] for x in body["content"]]
        if "nextPageId" not in body:
            break
        params["pageId"] = body["nextPageId"]
    assert len(seen) == len(set(seen)) and set(seen) == want


def test_jobs_cursor_paging(client: httpx.Client) -> None:
    snap = client.get("/_sandbox/snapshot", params={"include": "jobs"}).json()
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 6, "sort": "job_id"}
    pages = 0
    while True:
        r = client.get("/jobs", params=params)
        assert r.status_code == 200
        body = r.json()
        pages += 1
        assert body["totalFound"] == len(snap["jobs"])
        seen += [j["id"] for j in body["content"]]
        if "nextPageId" not in body:
            break
        assert 'rel="next"' in r.headers["link"]
        params["pageId"] = body["nextPageId"]
    assert pages == 4  # 20 jobs at 6 a page
    assert seen == list(snap["jobs"])  # creation order, each once


def test_jobs_offset_paging(client: httpx.Client) -> None:
    snap = client.get("/_sandbox/snapshot", params={"include": "jobs"}).json()
    seen: list[str] = []
    for offset in range(0, 30, 8):
        body = client.get("/jobs", params={"limit": 8, "offset": offset}).json()
        assert body["offset"] == offset and body["totalFound"] == 20
        assert "nextPageId" not in body
        seen += [j["id"] for j in body["content"]]
    assert seen == list(snap["jobs"])


def test_jobs_bad_cursor_and_sort(client: httpx.Client) -> None:
    r = client.get("/jobs", params={"sort": "job_id", "pageId": "nonsense"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "INVALID_PAGE_ID"
    r = client.get("/jobs", params={"sort": "title"})
    assert r.status_code == 400 and "'sort'" in r.json()["message"]
    r = client.get("/jobs", params={"limit": 101})
    assert r.status_code == 400


def test_offers_offset_paging(client: httpx.Client) -> None:
    snap = client.get("/_sandbox/snapshot", params={"include": "offers"}).json()
    total = len(snap["offers"])
    assert total > 10
    seen: list[str] = []
    offset = 0
    while True:
        body = client.get("/offers", params={"limit": 10, "offset": offset}).json()
        assert body["totalFound"] == total and body["offset"] == offset
        if not body["content"]:
            break
        seen += [o["id"] for o in body["content"]]
        offset += 10
    assert len(seen) == len(set(seen)) and set(seen) == set(snap["offers"])
    created = [snap["offers"][o]["createdOn"] for o in seen]
    assert created == sorted(created)
    assert client.get("/offers", params={"limit": 101}).status_code == 400
    assert client.get("/offers", params={"offset": -1}).status_code == 400


def crawl_offers(client: httpx.Client, **params: Any) -> tuple[list[str], set[int]]:
    seen: list[str] = []
    totals: set[int] = set()
    offset = 0
    while True:
        body = client.get("/offers", params={**params, "limit": 10, "offset": offset}).json()
        totals.add(body["totalFound"])
        if not body["content"]:
            return seen, totals
        seen += [o["id"] for o in body["content"]]
        offset += 10


def test_offers_paging_with_filters_and_after_a_deletion(client: httpx.Client) -> None:
    """The unfiltered list reads a slice of the creation order; filters and deleted offers take
    the filtering path: both give the same order and counts."""
    order, totals = crawl_offers(client)
    snap = client.get("/_sandbox/snapshot", params={"include": "offers"}).json()["offers"]
    assert totals == {len(snap)}
    status = snap[order[0]]["status"]
    by_status, totals = crawl_offers(client, status=status)
    assert by_status == [o for o in order if snap[o]["status"] == status]
    assert totals == {len(by_status)}
    # Deleting a candidate takes its offers along: the crawl skips them, in the same order.
    gone = snap[order[3]]["candidateId"]
    r = client.post(f"/_sandbox/candidates/{gone}/delete", json={})
    assert r.status_code == 200, r.text
    left, totals = crawl_offers(client)
    assert left == [o for o in order if snap[o]["candidateId"] != gone]
    assert order[3] not in left and totals == {len(left)}


def test_audit_next_page_id_paging(client: httpx.Client) -> None:
    stats = client.get("/_sandbox/stats").json()
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 100, "eventDateAfter": "1970-01-01T00:00:00Z"}
    while True:
        r = client.get(AUDIT, params=params)
        assert r.status_code == 200
        body = r.json()
        ids += [e["id"] for e in body["content"]]
        if "nextPageId" not in body:
            break
        params["nextPageId"] = body["nextPageId"]
    assert len(ids) == len(set(ids)) == stats["counts"]["auditEvents"]


def test_audit_events_in_time_order_and_filtered(client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "limit": 50,
        "eventDateAfter": "1970-01-01T00:00:00Z",
        "entityType": "OFFER",
    }
    dates: list[str] = []
    while True:
        body = client.get(AUDIT, params=params).json()
        assert all(e["entityType"] == "OFFER" for e in body["content"])
        dates += [e["eventDate"] for e in body["content"]]
        if "nextPageId" not in body:
            break
        params["nextPageId"] = body["nextPageId"]
    assert dates and dates == sorted(dates)
    # A cursor from this query does not fit another.
    first = client.get(
        AUDIT,
        params={"limit": 1, "eventDateAfter": "1970-01-01T00:00:00Z", "entityType": "OFFER"},
    ).json()
    r = client.get(AUDIT, params={"limit": 1, "nextPageId": first["nextPageId"]})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "INVALID_PAGE_ID"
