"""A tiny SmartRecruiters look-alike serving crafted pages over real HTTP (Starlette under
uvicorn on 127.0.0.1), for listings the sandbox never produces: token cycles, short pages, totals
that move, offsets that shift. Tests change ``CraftedApi``'s pages between passes; every other
list the engine reads answers empty and complete."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from syncd.sandbox.runner import listening_socket, wait_healthy

# token ("" for the first page) -> (items, next token, totalFound)
CursorPages = dict[str, tuple[list[dict[str, Any]], str | None, int | None]]
# (offset, limit) -> (items, totalFound)
OffsetPages = Callable[[int, int], tuple[list[dict[str, Any]], int | None]]


def candidate(n: int, **extra: Any) -> dict[str, Any]:
    """An invented candidate without applications."""
    return {
        "id": f"c{n}",
        "firstName": f"First{n}",
        "lastName": f"Last{n}",
        "email": f"person{n}@example.com",
        "createdOn": "2024-01-01T00:00:00.000Z",
        "updatedOn": f"2024-01-02T00:00:{n % 60:02d}.000Z",
        **extra,
    }


def offer(n: int) -> dict[str, Any]:
    return {
        "id": f"o{n}",
        "status": "CREATED",
        "candidateId": f"c{n}",
        "jobId": "j1",
        "createdOn": f"2024-01-03T00:00:{n % 60:02d}.000Z",
    }


def honest(items: list[dict[str, Any]], size: int) -> CursorPages:
    """Token pages of ``size`` over ``items``, as a correct API gives them."""
    pages: CursorPages = {}
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    for i, chunk in enumerate(chunks):
        token = "" if i == 0 else f"T{i}"
        nxt = f"T{i + 1}" if i + 1 < len(chunks) else None
        pages[token] = (chunk, nxt, len(items))
    return pages


def offsets(items: list[dict[str, Any]]) -> OffsetPages:
    return lambda off, lim: (items[off : off + lim], len(items))


@dataclass
class CraftedApi:
    base_url: str = ""
    candidates: CursorPages = field(default_factory=dict)
    offers: OffsetPages = field(default_factory=lambda: offsets([]))
    calls: list[str] = field(default_factory=list)
    # application id -> the interviews GET /interviews-api/v201904/interviews returns for it
    interviews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def app(self) -> Starlette:
        async def candidates(request: Request) -> JSONResponse:
            token = request.query_params.get("pageId", "")
            self.calls.append(f"candidates:{token}")
            if token not in self.candidates:
                return JSONResponse({"message": "Page id is invalid"}, status_code=400)
            items, nxt, total = self.candidates[token]
            body: dict[str, Any] = {"content": items, "totalFound": total}
            if nxt is not None:
                body["nextPageId"] = nxt
            return JSONResponse(body)

        async def offers(request: Request) -> JSONResponse:
            off = int(request.query_params.get("offset", "0"))
            lim = int(request.query_params.get("limit", "100"))
            self.calls.append(f"offers:{off}")
            items, total = self.offers(off, lim)
            return JSONResponse(
                {"offset": off, "limit": lim, "totalFound": total, "content": items}
            )

        async def application(request: Request) -> JSONResponse:
            cid, jid = request.path_params["cid"], request.path_params["jid"]
            return JSONResponse({"applicationId": f"a-{cid}-{jid}", "status": "INTERVIEW"})

        async def history(request: Request) -> JSONResponse:
            return JSONResponse(
                {"content": [{"changedOn": "2024-01-02T00:00:00.000Z", "status": "INTERVIEW"}]}
            )

        async def interviews(request: Request) -> JSONResponse:
            aid = request.query_params.get("applicationId", "")
            return JSONResponse({"content": self.interviews.get(aid, [])})

        async def empty(request: Request) -> JSONResponse:
            return JSONResponse({"content": [], "totalFound": 0})

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        return Starlette(
            routes=[
                Route("/candidates", candidates),
                Route("/offers", offers),
                Route("/candidates/{cid}/jobs/{jid}", application),
                Route("/candidates/{cid}/jobs/{jid}/status/history", history),
                Route("/interviews-api/v201904/interviews", interviews),
                Route("/jobs", empty),
                Route("/audit-api/v201910/audit-events", empty),
                Route("/health", health),
            ]
        )


def serve() -> Iterator[CraftedApi]:
    """Serve a CraftedApi on a free port for the duration of the generator."""
    api = CraftedApi()
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(api.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    api.base_url = f"http://127.0.0.1:{port}"
    wait_healthy(api.base_url)
    try:
        yield api
    finally:
        server.should_exit = True
        thread.join(timeout=15)
