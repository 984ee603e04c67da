"""One HRIS sandbox process: options, the state it holds (``HrisSandbox``) and the ASGI app
(``create_app``): the gate in front of the vendor's routes and the ``/_sandbox`` control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from syncd.hris_sandbox.faults import Faults, parse_rates
from syncd.hris_sandbox.gate import Gate, QuietDrops
from syncd.hris_sandbox.limits import Limiter
from syncd.hris_sandbox.state import Credential, EmployeeStore, Token
from syncd.hris_sandbox.vendor import ApiError, Vendor

log = logging.getLogger("syncd.hris_sandbox")
VENDOR_NAMES = ("bamboohr", "personio")


@dataclass
class HrisOptions:
    """``api_keys`` are BambooHR's; ``clients`` (id, secret) are Personio's. ``employees`` is
    how many people the seeded company already has."""

    vendor: str
    seed: int = 7
    employees: int = 20
    api_keys: list[str] = field(default_factory=lambda: ["sandbox-key"])
    clients: list[tuple[str, str]] = field(
        default_factory=lambda: [("sandbox-client", "sandbox-secret")]
    )
    company_domain: str = "sandbox"
    limits: bool = True
    token_ttl: int = 86400
    fault_timeout_seconds: float = 30.0
    fault_rates: str = ""  # e.g. "503=0.05,lost=0.02" (faults.parse_rates), every operation


@dataclass
class Settings:
    """Levers the control API changes. ``new_employee_status``: the status of an employee created
    without one (None: the vendor's own rule). ``throttle_status``: how a limit refusal is
    answered (429 with ``Retry-After``, or 503 as BambooHR did before 2026-09-16)."""

    new_employee_status: str | None = None
    throttle_status: int = 429
    token_ttl: int = 86400


def vendor_named(name: str) -> Vendor:
    """The vendor module for ``bamboohr`` or ``personio``; ValueError for any other name."""
    if name == "bamboohr":
        from syncd.hris_sandbox.bamboohr import BambooHR

        return BambooHR()
    if name == "personio":
        from syncd.hris_sandbox.personio import Personio

        return Personio()
    raise ValueError(f"vendor '{name}': use one of {', '.join(VENDOR_NAMES)}")


class HrisSandbox:
    """Everything one sandbox holds. ``reset`` returns it to the seeded company."""

    def __init__(self, options: HrisOptions) -> None:
        self.options = options
        self.vendor = vendor_named(options.vendor)
        self.routes: list[BaseRoute] = self.vendor.routes()
        self.tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        o = self.options
        self.store = EmployeeStore()
        self.credentials: dict[str, Credential] = {}
        if self.vendor.uses_client_secret:
            for cid, secret in o.clients:
                self.credentials[cid] = Credential(cid, self.vendor.scopes, secret)
        else:
            for key in o.api_keys:
                self.credentials[key] = Credential(key, self.vendor.scopes)
        self.tokens: dict[str, Token] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.next_webhook_id = 1  # ids are never reused, also after a delete
        self.deliveries: list[dict[str, Any]] = []
        self.settings = Settings(token_ttl=o.token_ttl)
        self.faults = Faults(
            o.seed, rates=parse_rates(o.fault_rates), timeout_seconds=o.fault_timeout_seconds
        )
        self.limiter = Limiter(self.vendor.limit_rules(), enabled=o.limits)
        self.stats: Counter[str] = Counter()
        self.vendor.seed(self, random.Random(o.seed), o.employees)

    def spawn(self, coro: Any) -> None:
        """Run background work (webhook deliveries) on the server's loop; kept until done."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def sandbox_of(request: Request) -> HrisSandbox:
    """The sandbox that serves ``request``."""
    return request.app.state.sandbox


def create_app(options: HrisOptions) -> Gate:
    """The ASGI app: the gate in front of the control API and the vendor's routes; errors,
    404s and 405s answered in the vendor's shape. ``app.sandbox`` is the live state."""
    from syncd.hris_sandbox.control import ROUTES as CONTROL

    logging.getLogger("uvicorn.error").addFilter(QuietDrops())
    sandbox = HrisSandbox(options)
    vendor = sandbox.vendor

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        what = "Method not allowed" if status == 405 else "Not found"
        return vendor.error(status, what)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("hris_sandbox_handler_failed", exc_info=exc)
        return vendor.error(500, "Internal server error")

    app = Starlette(
        routes=[*CONTROL, *sandbox.routes],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
        lifespan=lambda app: _lifespan(sandbox),
    )
    app.state.sandbox = sandbox
    return Gate(app, sandbox)


@contextlib.asynccontextmanager
async def _lifespan(sandbox: HrisSandbox) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for task in list(sandbox.tasks):
            task.cancel()
        await asyncio.gather(*sandbox.tasks, return_exceptions=True)
