"""The sandbox as an ASGI app: a gate (auth, limits, faults, rate-limit headers) in front of the
SmartRecruiters routes, the OAuth token endpoint and the ``/_sandbox`` control API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.sandbox.auth import AuthRegistry, Credential
from syncd.sandbox.clock import Clock
from syncd.sandbox.errors import ApiError
from syncd.sandbox.faults import FaultInjector, FaultPlan
from syncd.sandbox.generator import generate
from syncd.sandbox.jsonresp import dumps, json_response
from syncd.sandbox.limits import LimitConfig, Limiter
from syncd.sandbox.paging import TOKENS, TokenPolicy
from syncd.sandbox.state import Tenant

log = logging.getLogger("syncd.sandbox")
UNGATED = ("/_sandbox", "/identity/oauth/token", "/health")


@dataclass
class SandboxOptions:
    seed: int = 7
    jobs: int = 50
    candidates: int = 2000
    api_keys: list[str] = field(default_factory=lambda: ["sandbox-token"])
    oauth_clients: list[tuple[str, str]] = field(
        default_factory=lambda: [("sandbox-client", "sandbox-secret")]
    )
    token_ttl: int = 3600
    limits: LimitConfig = field(default_factory=LimitConfig)
    faults: str = ""
    fault_timeout_seconds: float = 30.0
    activity_rate: float = 0.0
    anchor: float | None = None
    frozen_clock: bool = False


class Sandbox:
    """Everything one sandbox process holds. ``reset`` regenerates the tenant from the seed."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.stats: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        o = self.options
        clock = Clock(frozen=o.frozen_clock)
        self.tenant: Tenant = generate(o.seed, o.jobs, o.candidates, clock=clock, anchor=o.anchor)
        self.auth = AuthRegistry(clock, token_ttl=o.token_ttl)
        for key in o.api_keys:
            self.auth.add_api_key(key)
        for cid, secret in o.oauth_clients:
            self.auth.add_client(cid, secret)
        # A copy: POST /_sandbox/limits changes the live config, and reset restores the options.
        self.limiter = Limiter(dataclasses.replace(o.limits))
        self.faults = FaultInjector(FaultPlan.parse(o.faults, o.fault_timeout_seconds), o.seed)
        self.page_tokens = TokenPolicy()  # POST /_sandbox/page-tokens changes it
        self.stats.clear()
        for hook in self.reset_hooks:
            hook(self)

    reset_hooks: list[Any] = []


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


def tenant_of(request: Request) -> Tenant:
    return sandbox_of(request).tenant


def credential_of(request: Request) -> Credential:
    return request.scope["state"]["credential"]


class _DropConnection(Exception):
    """Raised after the status line to make the server drop the connection (fault ``reset``)."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DropConnection)


def _error_bytes(message: str, code: str) -> bytes:
    return dumps({"message": message, "errors": [{"code": code, "message": message}]})


async def _send_simple(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": hdrs + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class Gate:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        sb = self.sandbox
        method, path = scope["method"], scope["path"]
        api_key = bearer = None
        for name, value in scope["headers"]:
            if name == b"x-smarttoken":
                api_key = value.decode("latin-1")
            elif name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    bearer = token.strip()
        cred, reason = sb.auth.resolve(api_key, bearer)
        sb.stats["requests"] += 1
        if cred is None:
            sb.stats["unauthorized"] += 1
            await _send_simple(send, 401, _error_bytes(reason, "UNAUTHORIZED"))
            return
        sb.stats[f"calls:{method} {path.split('/')[1] if '/' in path else path}"] += 1
        plan = sb.faults.plan
        fault = sb.faults.draw()
        refused, lim = sb.limiter.admit(cred.key, method, path)
        if refused is None and fault == "429":
            sb.limiter.release(lim, method, path)
            refused = "Rate limit exceeded"
        if refused is not None:
            sb.stats["throttled"] += 1
            await _send_simple(
                send, 429, _error_bytes(refused, "RATE_LIMIT_EXCEEDED"), sb.limiter.headers(lim)
            )
            return
        released = False
        try:
            # Latency is spent inside the admitted slot, as a slow server would: the request
            # counts against the concurrency limits while it waits.
            if plan.latency:
                await asyncio.sleep(plan.latency)
            if fault == "500":
                await _send_simple(
                    send,
                    500,
                    _error_bytes("Unexpected error", "INTERNAL_ERROR"),
                    sb.limiter.headers(lim),
                )
                return
            if fault == "reset":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"64"),
                        ],
                    }
                )
                raise _DropConnection()
            scope.setdefault("state", {})["credential"] = cred
            TOKENS.set(sb.page_tokens)  # this request's task only: the routes' token checks
            limit_headers = sb.limiter.headers(lim)
            if fault in ("truncate", "timeout"):
                start: Message = {}
                chunks: list[bytes] = []

                async def capture(message: Message) -> None:
                    nonlocal start
                    if message["type"] == "http.response.start":
                        start = message
                    elif message["type"] == "http.response.body":
                        chunks.append(message.get("body", b""))

                await self.app(scope, receive, capture)
                body = b"".join(chunks)
                headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                if fault == "truncate":
                    body = body[: len(body) // 2]
                else:
                    sb.limiter.release(lim, method, path)
                    released = True
                    await asyncio.sleep(plan.timeout_seconds)
                headers += [(b"content-length", str(len(body)).encode()), *limit_headers]
                await send(
                    {
                        "type": "http.response.start",
                        "status": start.get("status", 500),
                        "headers": headers,
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return

            async def with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
                await send(message)

            await self.app(scope, receive, with_headers)
        finally:
            if not released:
                sb.limiter.release(lim, method, path)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        return json_response(
            {
                "message": "Method not allowed",
                "errors": [
                    {
                        "code": "METHOD_NOT_ALLOWED",
                        "message": f"{request.method} is not allowed on {request.url.path}",
                    }
                ],
            },
            405,
        )
    return json_response(
        {
            "message": "Not found",
            "errors": [{"code": "NOT_FOUND", "message": f"No resource at {request.url.path}"}],
        },
        status,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("sandbox_handler_failed", exc_info=exc)
    return json_response(
        {
            "message": "Unexpected error",
            "errors": [{"code": "INTERNAL_ERROR", "message": type(exc).__name__}],
        },
        500,
    )


def create_app(options: SandboxOptions | None = None) -> Gate:
    from starlette.exceptions import HTTPException

    from syncd.sandbox.control import ROUTES as CONTROL
    from syncd.sandbox.routes import ROUTES as API

    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    sandbox = Sandbox(options or SandboxOptions())
    app = Starlette(
        routes=[*CONTROL, *API],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lambda app: _lifespan(sandbox),
    )
    app.state.sandbox = sandbox
    gate = Gate(app, sandbox)
    gate.sandbox = sandbox
    return gate


@contextlib.asynccontextmanager
async def _lifespan(sandbox: Sandbox) -> AsyncIterator[None]:
    from syncd.sandbox.activity import start_background, stop_background

    start_background(sandbox)
    try:
        yield
    finally:
        await stop_background(sandbox)
