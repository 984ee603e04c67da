"""Approvals API ``/approvals-api/v201910``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    APPROVALS,
    Group,
    Json,
    as_json_object,
)


class Approvals(Group):
    """Approvals API ``/approvals-api/v201910``."""

    async def create(self, request: Mapping[str, Any]) -> Json:
        return as_json_object(
            await self._c.request("POST", APPROVALS + "/approvals", json=dict(request))
        )

    async def get(self, approval_request_id: str) -> Json:
        return await self._get(P(APPROVALS + "/approvals/{id}", approval_request_id))

    async def comments(self, approval_request_id: str) -> list[Json]:
        return await self._list(P(APPROVALS + "/approvals/{id}/comments", approval_request_id))

    async def approve(self, approval_request_id: str, approver_id: str, **extra: Any) -> None:
        await self._c.request(
            "POST",
            P(APPROVALS + "/approvals/{id}/approve-decisions", approval_request_id),
            json={"approverId": approver_id, **extra},
        )

    async def reject(
        self, approval_request_id: str, approver_id: str, comment: str, **extra: Any
    ) -> None:
        """A rejection needs a comment (``COMMENT_IS_REQUIRED`` otherwise)."""
        await self._c.request(
            "POST",
            P(APPROVALS + "/approvals/{id}/reject-decisions", approval_request_id),
            json={"approverId": approver_id, "comment": comment, **extra},
        )
