"""Credentials as ``httpx.Auth`` flows.

``ApiKeyAuth`` sends ``X-SmartToken``. ``ClientCredentialsAuth`` gets a bearer from
``POST {base}/identity/oauth/token``, caches it, refreshes it shortly before it expires, and on a
401 refreshes it once and sends the request again. Secrets stay in ``SecretStr`` and never appear
in a repr, a log line or an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from syncd.ats.errors import TokenError, TransportError, parse_error_body

TOKEN_PATH = "/identity/oauth/token"


def fingerprint(secret: str) -> str:
    """A stable, non-reversible id for a credential (for the limiter registry and messages)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


class ApiKeyAuth(httpx.Auth):
    def __init__(self, api_key: SecretStr) -> None:
        self._key = api_key
        fp = fingerprint(api_key.get_secret_value())
        # Names the credential without revealing it: a hash prefix, enough to tell keys apart.
        self.kind = f"API key sha256:{fp[:8]} (X-SmartToken)"
        self.key = "key:" + fp

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-SmartToken"] = self._key.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth({self.key})"


@dataclass
class _Token:
    value: SecretStr
    expires_at: float
    margin: float


TokenFetcher = Callable[[httpx.Request], Awaitable[httpx.Response]]


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client credentials. ``fetch`` sends the token request (the client passes its own
    transport so tests and the sandbox see it); ``refresh_margin`` is how long before expiry a
    token is replaced."""

    requires_response_body = False

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        fetch: TokenFetcher,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._fetch = fetch
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.kind = f"OAuth client {client_id!r}"
        self.key = "client:" + client_id
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self.client_id!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentialsAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover

    def _fresh(self, token: _Token | None) -> bool:
        return token is not None and self.clock() < token.expires_at - token.margin

    async def token(self, *, stale: SecretStr | None = None) -> SecretStr:
        """The cached bearer, fetching a new one when it is missing, close to expiry, or equal to
        ``stale`` (the one the server just refused). Concurrent callers share one fetch."""
        async with self._lock:
            tok = self._token
            if (
                tok is not None
                and self._fresh(tok)
                and (stale is None or tok.value.get_secret_value() != stale.get_secret_value())
            ):
                return tok.value
            self._token = await self._request_token()
            return self._token.value

    async def _request_token(self) -> _Token:
        request = httpx.Request(
            "POST",
            self.base_url + TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret.get_secret_value(),
            },
            headers={"Accept": "application/json"},
        )
        self.token_requests += 1
        started = self.clock()
        try:
            response = await self._fetch(request)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"cannot reach the token endpoint: {type(exc).__name__}",
                method="POST",
                path=TOKEN_PATH,
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            message, errors = parse_error_body(body)
            raise TokenError(
                f"{self.kind}: token request refused"
                + (f": {message}" if message else " (no access_token in the answer)"),
                method="POST",
                path=TOKEN_PATH,
                status=response.status_code,
                errors=errors,
            )
        try:
            ttl = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            ttl = 3600.0
        # A short-lived token is replaced in the last quarter of its life, not on every call.
        margin = min(self.refresh_margin, ttl / 4)
        return _Token(SecretStr(str(body["access_token"])), started + ttl, margin)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            token = await self.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            yield request
