"""The gate in front of a vendor's routes: resolves the operation, authenticates, applies the
vendor's limits, then any fault, then lets the route answer. ``/_sandbox`` and ``/health`` pass
through untouched (never limited, never faulted, never authenticated)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.hris_sandbox.state import Credential

if TYPE_CHECKING:
    from syncd.hris_sandbox.faults import Faults
    from syncd.hris_sandbox.server import HrisSandbox

OPEN_PREFIXES = ("/_sandbox", "/health")


class DropConnection(Exception):
    """Raised after the status line: the server closes the connection without the body."""


class QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DropConnection)


async def _hold(seconds: float) -> bool:
    """Hold a faulted request; False when the server cancels it (stopping): the request then
    ends without an answer instead of a traceback in the server's log."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return False
    return True


async def _hang(faults: Faults, receive: Receive) -> bool:
    """Hold a request until ``faults`` is released (its plan replaced); False when the server
    cancels it (stopping). A client that gives up first (its read timeout) is seen to
    disconnect: how long it waited is kept in ``faults.abandoned`` (seconds), the sandbox's
    truth about the client's timeout."""
    faults.hanging += 1
    began = time.monotonic()

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        faults.abandoned.append(round(time.monotonic() - began, 3))

    watch = asyncio.ensure_future(gone())
    try:
        await faults.released.wait()
    except asyncio.CancelledError:
        return False
    finally:
        faults.hanging -= 1
        watch.cancel()
    return True


class Gate:
    """ASGI middleware; ``sandbox`` is the state it guards (tests reach it as ``app.sandbox``)."""

    def __init__(self, app: ASGIApp, sandbox: HrisSandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    def operation(self, scope: Scope) -> str | None:
        """The name of the route that serves this request, None when none does."""
        for route in self.sandbox.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "name", None)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        sb = self.sandbox
        vendor = sb.vendor
        scope = {**scope, "path": vendor.rewrite(sb, scope["path"])}
        op = self.operation(scope)
        if op is None:  # the router answers 404/405 in the vendor's shape
            await self.app(scope, receive, send)
            return
        sb.stats["requests"] += 1
        sb.stats[f"op:{op}"] += 1
        cred: Credential | None = None
        if op not in vendor.open_ops:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            resolved = vendor.authenticate(sb, headers)
            if not isinstance(resolved, Credential):
                sb.stats["unauthorized"] += 1
                await resolved(scope, receive, send)
                return
            cred = resolved
        address = (scope.get("client") or ("?", 0))[0]

        def key(kind: str) -> str:
            if kind == "credential":
                return cred.key if cred is not None else address
            return address if kind == "address" else "company"

        refusal = sb.limiter.admit(op, key)
        if refusal is not None:
            sb.stats["throttled"] += 1
            status = sb.settings.throttle_status
            retry = refusal.retry_after if status == 429 else None
            await vendor.throttled(sb, status, retry)(scope, receive, send)
            return
        scope.setdefault("state", {})["credential"] = cred
        fault = sb.faults.draw(op)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind in ("503", "429"):
            retry = fault.retry_after if fault.kind == "429" else None
            await vendor.throttled(sb, int(fault.kind), retry)(scope, receive, send)
            return
        if fault.kind == "hang":  # accepted, never handled, unanswered until released
            if await _hang(sb.faults, receive):
                await vendor.error(504, "Gateway Timeout")(scope, receive, send)
            return
        if fault.kind == "timeout":
            if await _hold(sb.faults.timeout_seconds):
                await vendor.error(504, "Gateway Timeout")(scope, receive, send)
            return
        # lost / slow: the request is handled (a create is written), the answer never arrives.
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if fault.kind == "lost":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            raise DropConnection()
        if not await _hold(sb.faults.timeout_seconds):
            return
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks)})
