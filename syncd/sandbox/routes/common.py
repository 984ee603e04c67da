"""Shared pieces of the API routes: rendering actions, role checks, list bodies."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from syncd.sandbox.errors import ApiError, bad_request
from syncd.sandbox.server import credential_of
from syncd.sandbox.timefmt import normalize


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def action(request: Request, path: str, method: str = "GET") -> dict[str, str]:
    return {"url": base(request) + path, "method": method}


def require_admin(request: Request, what: str) -> None:
    if credential_of(request).role != "ADMINISTRATOR":
        raise ApiError(403, "PERMISSION_DENIED", f"{what} requires the ADMINISTRATOR role")


def require_scope(request: Request, scope: str) -> None:
    if scope not in credential_of(request).scopes:
        raise ApiError(403, "PERMISSION_DENIED", f"Missing required scope: {scope}")


def query_time(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return normalize(raw)
    except ValueError:
        raise bad_request(
            "INVALID_PARAMETER",
            f"Query parameter '{name}' must be an ISO 8601 date-time, got '{raw}'",
        ) from None


def listing(content: list[Any]) -> dict[str, Any]:
    return {"totalFound": len(content), "content": content}


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
