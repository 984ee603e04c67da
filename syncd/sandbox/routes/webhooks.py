"""Routes of this API group (filled in by its own change)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
