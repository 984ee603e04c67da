"""``syncd.ats``: the only code in syncd that speaks SmartRecruiters.

async with SmartRecruitersClient(settings.smartrecruiters) as sr:
    async for page in sr.candidates.pages(updated_after=since):
        ...
"""

from syncd.ats.absent import absent_ok
from syncd.ats.client import SmartRecruitersClient
from syncd.ats.errors import (
    AtsError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    HttpError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseDecodeError,
    ServerError,
    TokenError,
    TransportError,
    ValidationFailedError,
)
from syncd.ats.paging import Page

__all__ = [
    "AtsError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "HttpError",
    "NotFoundError",
    "OutcomeUnknownError",
    "Page",
    "PermissionDeniedError",
    "RateLimitedError",
    "ResponseDecodeError",
    "ServerError",
    "SmartRecruitersClient",
    "TokenError",
    "TransportError",
    "ValidationFailedError",
    "absent_ok",
]
