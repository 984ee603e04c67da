"""What every API group shares: base paths, the group base class, small helpers.

The API groups, one class each: typed async methods over ``SmartRecruitersClient.request``.

Reads return the JSON as received (``dict``/``list[dict]``); ``syncd.ats.models`` validates it
into tolerant pydantic models when a caller wants types. Paths are the API's own; ids are
percent-encoded. Lists come as async iterators of ``Page`` at the maximum page size by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from syncd.ats.paging import MAX_PAGE

if TYPE_CHECKING:
    from syncd.ats.client import SmartRecruitersClient

Json = dict[str, Any]
FileArg = tuple[str, bytes | BinaryIO, str]  # (filename, content, content type)

APPROVALS = "/approvals-api/v201910"
AUDIT = "/audit-api/v201910"
INTERVIEWS = "/interviews-api/v201904"
JOB_APPLICATIONS = "/job-applications-api/v202112"
ASSESSMENT_ORDERS = "/assessment-api/v202107"
ASSESSMENT_PARTNER = "/assessment-api/v202010"
WEBHOOKS = "/webhooks-api/v201907"


def checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


def as_json_object(body: Any) -> Json:
    return body if isinstance(body, dict) else {} if body is None else {"content": body}


class Group:
    def __init__(self, client: SmartRecruitersClient) -> None:
        self._c = client

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Json:
        return as_json_object(await self._c.request("GET", path, params=params))

    async def _list(self, path: str, params: Mapping[str, Any] | None = None) -> list[Json]:
        return await self._c.get_list(path, params)
