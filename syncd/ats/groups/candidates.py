"""Candidates API: ``/candidates``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    FileArg,
    Group,
    Json,
    as_json_object,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Candidates(Group):
    """Candidates API: ``/candidates``."""

    def pages(
        self,
        updated_after: datetime | None = None,
        limit: int = MAX_PAGE,
        *,
        page_id: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page]:
        """Cursor pages of ``GET /candidates``. ``filters`` are passed as query parameters by
        their API names (``status``, ``subStatus``, ``jobId``, ``tag``, ``onboardingStatus``,
        ``consentStatus``, ``q`` …; lists repeat the parameter). ``page_id`` resumes a crawl."""
        params = {"limit": checked_limit(limit), "updatedAfter": updated_after, **filters}
        return self._c.cursor_pages("/candidates", params, start=page_id)

    async def get(self, candidate_id: str) -> Json:
        return await self._get(P("/candidates/{id}", candidate_id))

    async def delete(self, candidate_id: str) -> None:
        await self._c.request("DELETE", P("/candidates/{id}", candidate_id))

    async def consent(self, candidate_id: str) -> Json:
        """Deprecated single consent status of a candidate."""
        return await self._get(P("/candidates/{id}/consent", candidate_id))

    async def consents(self, candidate_id: str) -> list[Json]:
        return await self._list(P("/candidates/{id}/consents", candidate_id))

    async def request_consents(self, candidate_ids: Sequence[str]) -> Json:
        """``POST /candidates/consent-requests``: ask candidates for consent (1-1000 ids)."""
        body = await self._c.request(
            "POST",
            "/candidates/consent-requests",
            json={"content": [{"id": cid} for cid in candidate_ids]},
        )
        return as_json_object(body)

    async def parse_cv(
        self,
        file: FileArg,
        *,
        source_type_id: str | None = None,
        source_sub_type_id: str | None = None,
        source_id: str | None = None,
        internal: bool | None = None,
    ) -> Json:
        """``POST /candidates/cv``: create a candidate from a résumé (multipart)."""
        fields = {
            "sourceTypeId": source_type_id,
            "sourceSubTypeId": source_sub_type_id,
            "sourceId": source_id,
            "internal": None if internal is None else str(internal).lower(),
        }
        data = {k: v for k, v in fields.items() if v is not None}
        return as_json_object(
            await self._c.request("POST", "/candidates/cv", files={"file": file}, data=data or None)
        )

    async def delete_attachment(self, attachment_id: str) -> None:
        await self._c.request("DELETE", P("/candidates/attachments/{id}", attachment_id))

    async def set_tags(self, candidate_id: str, tags: Sequence[str]) -> Json:
        """``PUT /candidates/{id}/tags``: replaces the candidate's tags."""
        body = await self._c.request(
            "PUT", P("/candidates/{id}/tags", candidate_id), json={"tags": list(tags)}
        )
        return as_json_object(body)
