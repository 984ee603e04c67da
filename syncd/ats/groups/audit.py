"""Audit API ``/audit-api/v201910/audit-events`` (ADMINISTRATOR role)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from syncd.ats.groups.base import (
    AUDIT,
    Group,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Audit(Group):
    """Audit API ``/audit-api/v201910/audit-events`` (ADMINISTRATOR role)."""

    def pages(
        self,
        event_date_after: datetime | None = None,
        event_date_before: datetime | None = None,
        event_names: list[str] | None = None,
        limit: int = MAX_PAGE,
        *,
        page_id: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page]:
        """``filters``: ``authorType``, ``authorId``, ``entityType``, ``entityId``."""
        params = {
            "eventDateAfter": event_date_after,
            "eventDateBefore": event_date_before,
            "eventName": event_names,
            "limit": checked_limit(limit),
            **filters,
        }
        return self._c.cursor_pages(
            AUDIT + "/audit-events", params, token_param="nextPageId", start=page_id
        )
