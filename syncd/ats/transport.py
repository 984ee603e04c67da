"""The transport under the client: every HTTP request to the API (first tries, retries and the
auth flow's resend after a 401) passes the credential's limiter here and is counted. The body is
read inside the limiter slot, so a slot is held exactly as long as the server works on it. The
time each request waited for its slot (the limiter's caps and token buckets, a 429's pause
included) is summed here and told to ``on_wait`` when given."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from syncd.ats.auth import TOKEN_PATH
from syncd.ats.limiter import CredentialLimiter

WaitListener = Callable[[str, float], None]
"""Told ``(path, seconds)`` once per request that passed the limiter: how long it waited."""


class LimitedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        limiter: CredentialLimiter,
        on_wait: WaitListener | None = None,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.on_wait = on_wait
        self.calls = 0
        self.token_calls = 0
        self.waited_seconds = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith(TOKEN_PATH):
            # The token endpoint is not rate limited by the API; keep it out of the budget.
            self.token_calls += 1
            return await self._send(request)
        entered = time.monotonic()
        async with self.limiter.slot(request.method, path):
            waited = time.monotonic() - entered
            self.calls += 1
            self.waited_seconds += waited
            if self.on_wait is not None:
                self.on_wait(path, waited)
            response = await self._send(request)
        self.limiter.observe(_int_header(response, "x-ratelimit-remaining"))
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        headers = response.headers
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        except httpx.StreamConsumed:
            # A response built in memory (test transports) is already read, and decoded.
            raw = response.content
            headers = httpx.Headers(
                [(k, v) for k, v in headers.multi_items() if k != "content-encoding"]
            )
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _int_header(response: httpx.Response, name: str) -> int | None:
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None
