"""What a vendor module gives the shared server: its routes (each named by operation), how it
authenticates, how its errors and throttling answers look, its documented limits, its seed data
and what "activate an employee" means for it."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from syncd.hris_sandbox.limits import LimitRule
from syncd.hris_sandbox.state import Credential

if TYPE_CHECKING:
    from syncd.hris_sandbox.server import HrisSandbox


class ApiError(Exception):
    """Raised by a handler: the server answers with ``response`` (already vendor-shaped)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Vendor:
    """One HRIS: subclasses in ``bamboohr.py`` and ``personio.py`` fill in every hook."""

    name = ""
    default_port = 0
    #: every permission a credential can hold (vendor scope names); default credentials hold all.
    scopes: frozenset[str] = frozenset()
    #: credentials are a client id with a secret (Personio), else an API key (BambooHR).
    uses_client_secret = False
    #: operations that need no credential (Personio's token endpoint).
    open_ops: frozenset[str] = frozenset()
    #: the record field that holds the employee's status, and its active value.
    status_field = "status"
    active_status = "active"

    def statuses(self) -> tuple[str, ...]:
        """The employee statuses the vendor knows."""
        raise NotImplementedError

    def routes(self) -> list[BaseRoute]:
        """The API routes, each ``name``d by its operation (what faults and stats refer to)."""
        raise NotImplementedError

    def limit_rules(self) -> list[LimitRule]:
        """The vendor's documented rate limits (a fresh list: the control API may change it)."""
        return []

    def rewrite(self, sb: HrisSandbox, path: str) -> str:
        """The path the routes know for a request path (aliases); unchanged by default."""
        return path

    def authenticate(self, sb: HrisSandbox, headers: dict[str, str]) -> Credential | Response:
        """The caller's credential from the request headers (lowercase names), or the refusal."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        """An error answer in the vendor's shape."""
        raise NotImplementedError

    def throttled(self, sb: HrisSandbox, status: int, retry_after: int | None) -> Response:
        """A 429 (with ``Retry-After`` seconds) or 503 answer in the vendor's shape."""
        raise NotImplementedError

    def seed(self, sb: HrisSandbox, rng: random.Random, count: int) -> None:
        """Add ``count`` existing, active employees to ``sb.store``."""
        raise NotImplementedError

    def activate(self, sb: HrisSandbox, employee: dict[str, Any]) -> None:
        """Move a pending employee to active (what the HR team does on the first day)."""
        employee[self.status_field] = self.active_status
