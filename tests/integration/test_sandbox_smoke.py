"""The sandbox core over real HTTP: auth, the sync-critical reads, paging and the control API."""

from __future__ import annotations

import httpx

from tests.conftest import TOKEN


def test_candidates_page_and_details(api: httpx.Client) -> None:
    r = api.get("/candidates", params={"limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["limit"] == 5 and len(body["content"]) == 5
    assert body["totalFound"] == 300
    assert "nextPageId" in body and 'rel="next"' in r.headers["link"]
    assert r.headers["x-ratelimit-limit"] == "10"
    first = body["content"][0]
    detail = api.get(f"/candidates/{first['id']}").json()
    assert detail["id"] == first["id"] and detail["email"] == first["email"]


def test_unknown_token_is_401_with_smartrecruiters_body(sandbox) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{sandbox.base_url}/candidates", headers={"X-SmartToken": "nope"})
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_bad_page_id_is_invalid_page_id(api: httpx.Client) -> None:
    r = api.get("/candidates", params={"pageId": "garbage!"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "INVALID_PAGE_ID"


def test_crawl_matches_snapshot(open_sandbox) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    with httpx.Client(base_url=open_sandbox.base_url, headers={"X-SmartToken": TOKEN}) as c:
        params: dict[str, str | int] = {"limit": 100}
        while True:
            body = c.get("/candidates", params=params).json()
            seen += [x["id"] for x in body["content"]]
            if "nextPageId" not in body:
                break
            params["pageId"] = body["nextPageId"]
        snap = c.get("/_sandbox/snapshot", params={"include": "candidates"}).json()
    assert len(seen) == len(set(seen))
    assert set(seen) == set(snap["candidates"])
