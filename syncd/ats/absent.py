""" "404 means absent", declared once: a read whose 404 answer means the thing asked about does not
exist (a job without an approval request, an application that left its candidate, an offer list
of an application without offers) returns None instead of raising.

    latest = await absent_ok(sr.jobs.latest_approval(job_id))   # None: the job has none

Every other error (401/403, 429 after the retry budget, 5xx, transport) still raises: absence is
only what the API said with a 404 (SmartRecruiters answers ``*_NOT_FOUND`` codes with it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from typing import TypeVar

from syncd.ats.errors import NotFoundError

T = TypeVar("T")


async def absent_ok(call: Awaitable[T], *, codes: Collection[str] | None = None) -> T | None:
    """The answer of ``call`` (an awaitable client read), or None when the API answered 404.

    ``codes``: a 404 means absent only when its body names one of these error codes (e.g.
    ``CANDIDATE_NOT_FOUND``, SMARTRECRUITERS.md "Errors"): the definitive answer a deletion may
    rest on. Any other 404 (a path the server does not know) raises ``NotFoundError``."""
    try:
        return await call
    except NotFoundError as exc:
        if codes is not None and not set(codes) & set(exc.codes):
            raise
        return None
