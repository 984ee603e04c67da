"""Messages API: ``/messages``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    Group,
    Json,
    as_json_object,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Messages(Group):
    """Messages API: ``/messages``."""

    def pages(
        self, candidate_id: str, *, job_id: str | None = None, limit: int = MAX_PAGE
    ) -> AsyncIterator[Page]:
        params = {"candidateId": candidate_id, "jobId": job_id, "limit": checked_limit(limit)}
        return self._c.cursor_pages("/messages", params)

    async def share(
        self,
        content: str,
        *,
        share_with: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> Json:
        """``POST /messages/shares``: post a note; ``share_with`` is ``{users, hiringTeamOf,
        everyone, openNote}``."""
        body: Json = {"content": content}
        if share_with is not None:
            body["shareWith"] = dict(share_with)
        if correlation_id is not None:
            body["correlationId"] = correlation_id
        return as_json_object(await self._c.request("POST", "/messages/shares", json=body))

    async def delete_share(self, message_id: str) -> None:
        await self._c.request("DELETE", P("/messages/shares/{id}", message_id))
