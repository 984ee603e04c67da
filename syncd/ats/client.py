"""``SmartRecruitersClient``: one per credential. Transport, auth, limits, retries and paging
live here; the API groups (``sr.candidates``, ``sr.jobs`` …) are thin typed wrappers over
``request``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from syncd.ats import errors as E
from syncd.ats.auth import ApiKeyAuth, ClientCredentialsAuth
from syncd.ats.limiter import CredentialLimiter, LimitSettings, limiter_for
from syncd.ats.paging import (
    MAX_PAGE,
    Page,
    Paginator,
    Position,
    Walk,
    cursor_pages,
    items_of,
    offset_pages,
)
from syncd.ats.retry import IDEMPOTENT, Backoff, RetryPolicy, log_retry, retry_after_seconds
from syncd.ats.scopes import required_scope
from syncd.ats.transport import LimitedTransport, WaitListener
from syncd.config import SmartRecruitersSettings

# Raised before a byte left: safe to retry for any method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Raised after the request may have reached the server.
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_MISSING: Any = object()


def path_of(template: str, *ids: object) -> str:
    """Fill ``{…}`` placeholders in order, each id percent-encoded (an id is never a path)."""
    parts = template.split("{")
    out = [parts[0]]
    values = list(ids)
    for part in parts[1:]:
        _, _, rest = part.partition("}")
        if not values:
            raise ValueError(f"{template}: not enough ids")
        value = str(values.pop(0))
        if not value:
            raise ValueError(f"{template}: empty id")
        out.append(quote(value, safe="") + rest)
    if values:
        raise ValueError(f"{template}: too many ids")
    return "".join(out)


class SmartRecruitersClient:
    """Async client for one SmartRecruiters credential::

    async with SmartRecruitersClient(settings.smartrecruiters) as sr:
        async for page in sr.candidates.pages(updated_after=since):
            ...
    """

    def __init__(
        self,
        settings: SmartRecruitersSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_limiter_wait: WaitListener | None = None,
    ) -> None:
        """``on_limiter_wait(path, seconds)``: told how long each request waited in the
        credential's limiter (the daemon's ``syncd_limiter_wait_seconds``)."""
        if not settings.has_credentials:
            raise E.ConfigurationError(
                "no SmartRecruiters credentials: set SYNCD_SMARTRECRUITERS__API_KEY, or "
                "SYNCD_SMARTRECRUITERS__CLIENT_ID and SYNCD_SMARTRECRUITERS__CLIENT_SECRET"
            )
        if settings.api_key is not None and not settings.api_key.get_secret_value().strip():
            raise E.ConfigurationError(
                "SYNCD_SMARTRECRUITERS__API_KEY is empty: set the API key, or unset it and use "
                "CLIENT_ID/CLIENT_SECRET"
            )
        if settings.client_secret is not None and not settings.client_secret.get_secret_value():
            raise E.ConfigurationError("SYNCD_SMARTRECRUITERS__CLIENT_SECRET is empty")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.limits = LimitSettings(
            rate=settings.rate_limit,
            max_concurrency=settings.max_concurrency,
            candidates_concurrency=settings.candidates_concurrency,
            publication_rate=settings.publication_rate_limit,
        )
        self.policy = RetryPolicy(settings.max_retries, settings.retry_max_seconds)
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._inner = transport
        self._http: httpx.AsyncClient | None = None
        self._transport: LimitedTransport | None = None
        self._on_limiter_wait = on_limiter_wait
        self.limiter: CredentialLimiter | None = None
        self.auth: ApiKeyAuth | ClientCredentialsAuth
        if settings.client_id is not None and settings.client_secret is not None:
            self.auth = ClientCredentialsAuth(
                self.base_url, settings.client_id, settings.client_secret, self._send_token
            )
        else:
            assert settings.api_key is not None
            self.auth = ApiKeyAuth(settings.api_key)
        self.retries = 0
        self.throttled = 0  # 429 answers so far

        from syncd.ats import groups

        self.jobs = groups.Jobs(self)
        self.candidates = groups.Candidates(self)
        self.applications = groups.Applications(self)
        self.offers = groups.Offers(self)
        self.approvals = groups.Approvals(self)
        self.interviews = groups.Interviews(self)
        self.messages = groups.Messages(self)
        self.audit = groups.Audit(self)
        self.assessments = groups.Assessments(self)
        self.configuration = groups.Configuration(self)
        self.webhooks = groups.Webhooks(self)

    def __repr__(self) -> str:
        return f"SmartRecruitersClient({self.base_url!r}, {self.auth!r})"

    # lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> SmartRecruitersClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        if self._http is not None:
            return
        self.limiter = limiter_for(self.auth.key + "@" + self.base_url, self.limits)
        s = self.settings
        inner = self._inner or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=max(16, s.max_concurrency * 2))
        )
        self._transport = LimitedTransport(inner, self.limiter, self._on_limiter_wait)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=self.auth,
            transport=self._transport,
            timeout=httpx.Timeout(s.timeout, connect=s.connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "syncd-ats"},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def calls(self) -> int:
        """HTTP requests sent to the API so far, retries included (token requests excluded)."""
        return self._transport.calls if self._transport else 0

    @property
    def limiter_wait_seconds(self) -> float:
        """Seconds the requests sent so far waited in the limiter, summed."""
        return self._transport.waited_seconds if self._transport else 0.0

    @property
    def token_calls(self) -> int:
        return self._transport.token_calls if self._transport else 0

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("use 'async with SmartRecruitersClient(...)' (or await open())")
        return self._http

    async def _send_token(self, request: httpx.Request) -> httpx.Response:
        return await self.http.send(request, auth=None)

    # requests ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = _MISSING,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
    ) -> Any:
        """Send one API request with limits and retries; the parsed JSON body (None if empty)."""
        _, body = await self._exchange(
            method, path, params=params, json=json, data=data, files=files
        )
        return body

    async def get_response(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        response, _ = await self._exchange("GET", path, params=params)
        return response

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = _MISSING,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
    ) -> tuple[httpx.Response, Any]:
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        query = _clean_params(params)
        idempotent = method in IDEMPOTENT
        started = time.monotonic()
        attempt = 0
        kwargs: dict[str, Any] = {"params": query}
        if json is not _MISSING:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        if files is not None:
            kwargs["files"] = files
        while True:
            attempt += 1
            failure: E.AtsError
            wait: float | None = None  # None: do not retry
            try:
                response = await self.http.request(method, path, **kwargs)
            except E.AtsError:
                raise
            except _NOT_SENT as exc:
                failure = E.TransportError(
                    f"could not connect ({type(exc).__name__})", method=method, path=path
                )
                wait = self.backoff.delay(attempt - 1)
            except _MAYBE_SENT as exc:
                what = _describe(exc)
                if not idempotent:
                    raise E.OutcomeUnknownError(
                        f"{what} after the request was sent; it may or may not have taken "
                        "effect, so it was not retried: check before sending it again",
                        method=method,
                        path=path,
                        attempts=attempt,
                    ) from None
                failure = E.TransportError(what, method=method, path=path)
                wait = self.backoff.delay(attempt - 1)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        return response, _decode(response)
                    except ValueError:
                        if not idempotent:
                            raise E.OutcomeUnknownError(
                                f"the server answered {status} but the body is not valid JSON "
                                "(truncated?); the request took effect but its result is "
                                "unknown, so it was not retried",
                                method=method,
                                path=path,
                                status=status,
                                attempts=attempt,
                            ) from None
                        failure = E.ResponseDecodeError(
                            f"the {status} answer's body is not valid JSON (truncated?)",
                            method=method,
                            path=path,
                            status=status,
                        )
                        wait = self.backoff.delay(attempt - 1)
                else:
                    failure = self._http_error(method, path, response)
                    if status == 429:
                        self.throttled += 1
                        hinted = retry_after_seconds(response.headers.get("retry-after"))
                        wait = hinted if hinted is not None else self.backoff.delay(attempt - 1)
                        if self.limiter is not None:
                            self.limiter.throttled(wait)
                    elif status == 503 or (status >= 500 and idempotent):
                        hinted = retry_after_seconds(response.headers.get("retry-after"))
                        wait = hinted if hinted is not None else self.backoff.delay(attempt - 1)
            elapsed = time.monotonic() - started
            if wait is None or not self.policy.allows(attempt - 1, elapsed, wait):
                failure.attempts = attempt
                failure.args = (failure._render(),)
                raise failure
            self.retries += 1
            log_retry(
                method,
                path,
                attempt,
                wait,
                failure.status,
                failure.message,
                retries=self.retries,
                throttled=self.throttled,
            )
            await self._sleep(wait)

    def _http_error(self, method: str, path: str, response: httpx.Response) -> E.HttpError:
        status = response.status_code
        try:
            body = orjson.loads(response.content)
        except ValueError:
            body = None
        message, errs = E.parse_error_body(body)
        message = message or response.reason_phrase or f"HTTP {status}"
        if status in (401, 403):
            scope = required_scope(method, path)
            who = self.auth.kind
            if status == 401:
                message = f"{message}; the {who} was refused: check that it is valid and active"
            else:
                need = f" (this endpoint needs the '{scope}' scope)" if scope else ""
                message = f"{message}; the {who} lacks a permission{need}"
        return E.error_for_status(status)(
            message, method=method, path=path, status=status, errors=errs
        )

    # paging ------------------------------------------------------------------------------

    async def _fetch(self, path: str, params: dict[str, Any]) -> tuple[httpx.Response, Any]:
        # The body as decoded once by the exchange (it checks every answer is whole JSON).
        return await self._exchange("GET", path, params=params)

    def cursor_pages(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        token_param: str = "pageId",
        start: str | None = None,
    ) -> AsyncIterator[Page]:
        return cursor_pages(self._fetch, path, params, token_param=token_param, start=start)

    def offset_pages(
        self, path: str, params: Mapping[str, Any], *, limit: int = MAX_PAGE, offset: int = 0
    ) -> AsyncIterator[Page]:
        return offset_pages(self._fetch, path, params, limit=limit, offset=offset)

    def paged(
        self,
        paginator: Paginator,
        path: str,
        params: Mapping[str, Any],
        *,
        start: Position | None = None,
        walk: Walk | None = None,
    ) -> AsyncIterator[Page]:
        """The pages of ``GET path`` walked by ``paginator`` from ``start`` (None: the first
        page); ``walk`` receives whether the walk saw every record (``syncd.ats.paging``)."""
        return paginator.pages(self._fetch, path, params, start=start, walk=walk)

    async def get_list(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """A single-list answer (``{totalFound, content}`` or a bare list) as its items."""
        return items_of(await self.request("GET", path, params=params))


def _clean_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Drop Nones; lists become repeated parameters; datetimes ISO 8601 in UTC; bools lower."""
    from datetime import UTC, datetime

    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        for v in value if isinstance(value, list | tuple | set | frozenset) else [value]:
            if v is None:
                continue
            if isinstance(v, datetime):
                if v.tzinfo is None:
                    raise ValueError(f"query parameter {key!r}: datetime must be timezone-aware")
                v = v.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            elif isinstance(v, bool):
                v = "true" if v else "false"
            elif hasattr(v, "value"):  # enums
                v = v.value
            out.append((key, str(v)))
    return out


def _decode(response: httpx.Response) -> Any:
    content = response.content
    if response.status_code == 204 or not content.strip():
        return None
    body = orjson.loads(content)  # raises JSONDecodeError, a ValueError
    # U+0000 means nothing in any field, and PostgreSQL can store it in neither text nor jsonb:
    # removed from every string here, before anything is stored, so that SQLite and PostgreSQL
    # mirror the same values (docs/mirror.md, "NUL characters"). JSON can only hold it escaped.
    return without_nul(body) if _NUL in content else body


_NUL = b"\\u0000"


def without_nul(value: Any) -> Any:
    """``value`` (decoded JSON) with U+0000 removed from every string, keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed before a complete answer (reset)"
    return f"network error ({type(exc).__name__})"
