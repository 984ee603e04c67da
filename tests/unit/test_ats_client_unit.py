"""The client's retry, error and auth logic against httpx.MockTransport fakes (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncd.ats import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ResponseDecodeError,
    ServerError,
    SmartRecruitersClient,
    TokenError,
)
from syncd.ats.auth import ClientCredentialsAuth
from syncd.ats.models import Application, ApplicationStatus, Job
from syncd.ats.retry import Backoff
from syncd.config import SmartRecruitersSettings

KEY = "unit-secret-key-123"
SECRET = "unit-client-secret-456"
Handler = Callable[[httpx.Request], httpx.Response]


def settings(**kw: Any) -> SmartRecruitersSettings:
    # a high rate keeps these tests free of real waiting; the limiter has its own tests
    base: dict[str, Any] = {
        "base_url": "https://sr.test",
        "api_key": KEY,
        "max_retries": 4,
        "rate_limit": 10000.0,
    }
    base.update(kw)
    return SmartRecruitersSettings(**base)


def run(handler: Handler, work: Callable[[SmartRecruitersClient], Any], **kw: Any) -> Any:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def go() -> Any:
        async with SmartRecruitersClient(
            settings(**kw),
            transport=httpx.MockTransport(handler),
            backoff=Backoff(base=0.01, cap=0.02),
            sleep=sleep,
        ) as sr:
            result = await work(sr)
            return result, sr.calls, slept

    return asyncio.run(go())


def sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        # a fresh copy each time: a response body can be streamed only once
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    return handler, seen


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def err(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        json={"message": message, "errors": [{"code": code, "message": message}]},
        headers=headers,
    )


def test_429_waits_retry_after_and_retries() -> None:
    handler, seen = sequence(
        err(429, "RATE_LIMIT_EXCEEDED", "slow", {"Retry-After": "0.2"}), ok({"id": "c1"})
    )
    body, calls, slept = run(handler, lambda sr: sr.candidates.get("c1"))
    assert body == {"id": "c1"}
    assert calls == 2 and len(seen) == 2
    assert 0.2 in slept


def test_429_on_post_is_retried_because_the_server_refused_it() -> None:
    handler, _ = sequence(
        err(429, "RATE_LIMIT_EXCEEDED", "slow"), httpx.Response(201, json={"id": "j1"})
    )
    body, calls, _ = run(handler, lambda sr: sr.jobs.create({"title": "x"}))
    assert body == {"id": "j1"} and calls == 2


def test_503_on_post_is_retried_500_is_not() -> None:
    handler, _ = sequence(err(503, "UNAVAILABLE", "later"), httpx.Response(201, json={"id": "j1"}))
    assert run(handler, lambda sr: sr.jobs.create({"title": "x"}))[1] == 2
    handler, seen = sequence(err(500, "INTERNAL_ERROR", "boom"), ok({}))
    with pytest.raises(ServerError) as exc:
        run(handler, lambda sr: sr.jobs.create({"title": "x"}))
    assert len(seen) == 1
    assert exc.value.status == 500 and exc.value.codes == ["INTERNAL_ERROR"]
    assert exc.value.method == "POST" and exc.value.path == "/jobs"


def test_get_5xx_is_retried_until_the_budget_runs_out() -> None:
    handler, seen = sequence(err(500, "INTERNAL_ERROR", "boom"))
    with pytest.raises(ServerError) as exc:
        run(handler, lambda sr: sr.jobs.get("j1"), max_retries=3)
    assert len(seen) == 4  # 1 + 3 retries
    assert exc.value.attempts == 4 and "after 4 attempts" in str(exc.value)


def test_timeout_on_get_is_retried_on_post_is_outcome_unknown() -> None:
    handler, seen = sequence(httpx.ReadTimeout("slow"), ok({"id": "j1"}))
    assert run(handler, lambda sr: sr.jobs.get("j1"))[0] == {"id": "j1"}
    assert len(seen) == 2
    handler, seen = sequence(httpx.ReadTimeout("slow"), httpx.Response(201, json={"id": "j1"}))
    with pytest.raises(OutcomeUnknownError) as exc:
        run(handler, lambda sr: sr.jobs.create({"title": "x"}))
    assert len(seen) == 1
    assert "not retried" in str(exc.value) and exc.value.method == "POST"


def test_reset_on_patch_is_outcome_unknown() -> None:
    handler, seen = sequence(httpx.RemoteProtocolError("peer closed"), ok({}))
    with pytest.raises(OutcomeUnknownError):
        run(handler, lambda sr: sr.jobs.set_headcount("j1", {"min": 1}))
    assert len(seen) == 1


def test_connect_error_is_retried_even_for_post() -> None:
    handler, seen = sequence(httpx.ConnectError("refused"), httpx.Response(201, json={"id": "j"}))
    assert run(handler, lambda sr: sr.jobs.create({"title": "x"}))[0] == {"id": "j"}
    assert len(seen) == 2


def test_truncated_body_is_retried_for_get_and_reported_for_post() -> None:
    cut = httpx.Response(200, content=b'{"id": "c1", "firstN')
    handler, seen = sequence(cut, ok({"id": "c1"}))
    assert run(handler, lambda sr: sr.candidates.get("c1"))[0] == {"id": "c1"}
    assert len(seen) == 2
    handler, seen = sequence(cut)
    with pytest.raises(ResponseDecodeError):
        run(handler, lambda sr: sr.candidates.get("c1"), max_retries=1)
    handler, seen = sequence(httpx.Response(201, content=b'{"id": "j'))
    with pytest.raises(OutcomeUnknownError):
        run(handler, lambda sr: sr.jobs.create({"title": "x"}))
    assert len(seen) == 1


def test_errors_carry_codes_and_never_the_key() -> None:
    handler, _ = sequence(err(404, "CANDIDATE_NOT_FOUND", "Candidate not found"))
    with pytest.raises(NotFoundError) as exc:
        run(handler, lambda sr: sr.candidates.get("nope"))
    e = exc.value
    assert e.status == 404 and e.codes == ["CANDIDATE_NOT_FOUND"] and e.path == "/candidates/nope"
    for text in (str(e), repr(e)):
        assert KEY not in text


def test_403_names_the_missing_scope() -> None:
    handler, _ = sequence(err(403, "PERMISSION_DENIED", "Forbidden"))
    with pytest.raises(PermissionDeniedError) as exc:
        run(handler, lambda sr: sr.offers.for_application("c", "j"))
    assert "candidates_offers_read" in str(exc.value)
    assert KEY not in str(exc.value)


def test_ids_are_percent_encoded_and_params_cleaned() -> None:
    from datetime import UTC, datetime

    handler, seen = sequence(ok({"content": [], "totalFound": 0}))

    async def work(sr: SmartRecruitersClient) -> None:
        await sr.applications.get("a/b", "j?1")
        async for _ in sr.candidates.pages(
            updated_after=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), status=["HIRED", "OFFERED"]
        ):
            pass

    run(handler, work)
    assert seen[0].url.raw_path == b"/candidates/a%2Fb/jobs/j%3F1"
    q = seen[1].url.params
    assert q.get_list("status") == ["HIRED", "OFFERED"]
    assert q["updatedAfter"] == "2026-01-02T03:04:05.000Z" and q["limit"] == "100"


def test_cursor_paging_follows_body_or_link() -> None:
    pages = [
        httpx.Response(200, json={"content": [{"id": 1}], "nextPageId": "p2", "totalFound": 3}),
        httpx.Response(
            200,
            json={"content": [{"id": 2}], "totalFound": 3},
            headers={"Link": '</candidates?limit=100&pageId=p3>; rel="next"'},
        ),
        httpx.Response(200, json={"content": [{"id": 3}], "totalFound": 3}),
    ]
    handler, seen = sequence(*pages)

    async def work(sr: SmartRecruitersClient) -> list[Any]:
        return [(p.items, p.next_page_id, p.total) async for p in sr.candidates.pages()]

    got = run(handler, work)[0]
    assert [g[0][0]["id"] for g in got] == [1, 2, 3]
    assert [g[1] for g in got] == ["p2", "p3", None]
    assert [r.url.params.get("pageId") for r in seen] == [None, "p2", "p3"]


def test_offset_paging_stops_at_total() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        off, lim = int(request.url.params["offset"]), int(request.url.params["limit"])
        items = [{"id": i} for i in range(off, min(off + lim, 7))]
        return ok({"limit": lim, "offset": off, "totalFound": 7, "content": items})

    async def work(sr: SmartRecruitersClient) -> list[int]:
        return [o["id"] async for p in sr.offers.pages(limit=3) for o in p.items]

    ids, calls, _ = run(handler, work)
    assert ids == list(range(7)) and calls == 3


def test_models_keep_unknown_fields_and_enum_values() -> None:
    app = Application.model_validate(
        {"id": "a", "status": "HIRED", "onboardingStatus": "SOMETHING_NEW", "brandNew": {"x": 1}}
    )
    assert app.status is ApplicationStatus.HIRED
    assert app.onboarding_status == "SOMETHING_NEW"
    assert app.model_extra == {"brandNew": {"x": 1}}
    job = Job.model_validate({"id": "j", "status": "ARCHIVED_V2", "title": "T"})
    assert job.status == "ARCHIVED_V2"
    dumped = job.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    assert dumped == {"id": "j", "status": "ARCHIVED_V2", "title": "T"}


# OAuth -------------------------------------------------------------------------------------


class OAuthServer:
    def __init__(self, ttl: int = 3600) -> None:
        self.ttl = ttl
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.api_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/identity/oauth/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials"
            if form["client_secret"] != SECRET:
                return httpx.Response(
                    401, json={"error": "invalid_client", "error_description": "bad client"}
                )
            token = f"tok{len(self.issued)}"
            self.issued.append(token)
            self.valid = {token}
            return ok({"access_token": token, "token_type": "Bearer", "expires_in": self.ttl})
        self.api_calls += 1
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid:
            return err(401, "UNAUTHORIZED", "Access token expired")
        return ok({"ok": True, "auth": "bearer"})


def oauth_settings(**kw: Any) -> dict[str, Any]:
    return {"api_key": None, "client_id": "cid", "client_secret": SECRET, **kw}


def test_oauth_token_is_cached_and_shared_by_concurrent_callers() -> None:
    server = OAuthServer()

    async def work(sr: SmartRecruitersClient) -> Any:
        await asyncio.gather(*(sr.jobs.get(f"j{i}") for i in range(20)))
        return sr.token_calls

    token_calls, calls, _ = run(server, work, **oauth_settings())
    assert server.issued == ["tok0"] and token_calls == 1 and calls == 20


def test_oauth_401_refreshes_once_and_resends() -> None:
    server = OAuthServer()

    async def work(sr: SmartRecruitersClient) -> Any:
        await sr.jobs.get("a")
        server.valid = set()  # the server forgets every token (expired early, revoked)
        return await sr.jobs.get("b")

    body, calls, _ = run(server, work, **oauth_settings())
    assert body["ok"] and server.issued == ["tok0", "tok1"] and calls == 3


def test_oauth_refreshes_before_expiry() -> None:
    clock = [0.0]
    fetched: list[str] = []

    async def fetch(request: httpx.Request) -> httpx.Response:
        fetched.append("x")
        return ok({"access_token": f"t{len(fetched)}", "expires_in": 120})

    auth = ClientCredentialsAuth(
        "https://sr.test",
        "cid",
        SecretStr(SECRET),
        fetch,
        refresh_margin=30,
        clock=lambda: clock[0],
    )

    async def go() -> list[str]:
        out = [(await auth.token()).get_secret_value()]
        clock[0] = 80.0  # 40 s left: still fresh
        out.append((await auth.token()).get_secret_value())
        clock[0] = 95.0  # 25 s left: inside the margin, replaced before it expires
        out.append((await auth.token()).get_secret_value())
        return out

    assert asyncio.run(go()) == ["t1", "t1", "t2"]


def test_oauth_refused_client_is_a_token_error_without_the_secret() -> None:
    server = OAuthServer()
    with pytest.raises(TokenError) as exc:
        run(server, lambda sr: sr.jobs.get("a"), **oauth_settings(client_secret="wrong-secret"))
    assert exc.value.status == 401 and exc.value.codes == ["invalid_client"]
    assert isinstance(exc.value, AuthenticationError)
    assert "wrong-secret" not in str(exc.value) and "wrong-secret" not in repr(exc.value)


def test_client_repr_has_no_secret() -> None:
    sr = SmartRecruitersClient(settings())
    assert KEY not in repr(sr) and KEY not in repr(sr.auth)
    sr2 = SmartRecruitersClient(settings(**oauth_settings()))
    assert SECRET not in repr(sr2) and SECRET not in json.dumps(repr(sr2.auth))


def test_each_request_tells_how_long_it_waited_in_the_limiter() -> None:
    """The limiter's wait per request, as ``syncd run`` exports it (syncd_limiter_wait_seconds):
    at 20 requests/s with a burst of 1, five requests sent together leave 50 ms apart, so the
    k-th waited at least k x 50 ms."""
    waits: list[tuple[str, float]] = []

    async def go() -> float:
        async with SmartRecruitersClient(
            settings(rate_limit=20.0),
            transport=httpx.MockTransport(lambda r: ok({})),
            on_limiter_wait=lambda path, s: waits.append((path, s)),
        ) as sr:
            await asyncio.gather(*(sr.request("GET", f"/jobs/{i}") for i in range(5)))
            return sr.limiter_wait_seconds

    total = asyncio.run(go())
    assert sorted(p for p, _ in waits) == [f"/jobs/{i}" for i in range(5)]
    seconds = sorted(s for _, s in waits)
    for k, s in enumerate(seconds):
        assert s >= k * 0.05 - 0.01, seconds
    assert total == pytest.approx(sum(seconds))
