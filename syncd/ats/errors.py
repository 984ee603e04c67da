"""One exception hierarchy for everything the SmartRecruiters client raises.

Every error carries the request's method and path (never its host, query or headers, so no
credential can leak through a message or repr), and, for HTTP errors, the status and the
SmartRecruiters error codes and messages from the body.
"""

from __future__ import annotations

from typing import Any


class AtsError(Exception):
    """Base: ``method``, ``path``, ``status`` (None: no answer), ``codes``, ``messages``."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        attempts: int = 1,
    ) -> None:
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.errors: list[dict[str, Any]] = errors or []
        self.attempts = attempts
        super().__init__(self._render())

    @property
    def codes(self) -> list[str]:
        return [str(e["code"]) for e in self.errors if e.get("code")]

    @property
    def messages(self) -> list[str]:
        out = []
        for e in self.errors:
            msg = e.get("message")
            if msg:
                where = e.get("dataPath")
                out.append(f"{where}: {msg}" if where else str(msg))
        return out

    def _render(self) -> str:
        head = f"{self.method} {self.path}".strip()
        status = f" -> {self.status}" if self.status is not None else ""
        codes = f" [{', '.join(self.codes)}]" if self.codes else ""
        detail = "; ".join(m for m in self.messages if m not in self.message)
        tail = f" ({detail})" if detail else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{head}{status}{codes}: {self.message}{tail}{tries}" if head else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"


class ConfigurationError(AtsError):
    """The client cannot be built from these settings (e.g. no credentials)."""


# HTTP answers -------------------------------------------------------------------------------


class HttpError(AtsError):
    """The API answered with a non-2xx status."""


class BadRequestError(HttpError):
    """400: e.g. INVALID_PARAMETER, INVALID_PAGE_ID."""


class AuthenticationError(HttpError):
    """401: the credential was refused (unknown key, expired or revoked token)."""


class TokenError(AuthenticationError):
    """The OAuth token endpoint refused the client credentials (RFC 6749 error)."""


class PermissionDeniedError(HttpError):
    """403: the credential lacks a scope or role."""


class NotFoundError(HttpError):
    """404: e.g. CANDIDATE_NOT_FOUND, JOB_NOT_FOUND."""


class ConflictError(HttpError):
    """409: e.g. CANDIDATE_DATA_CONFLICT."""


class ValidationFailedError(HttpError):
    """422: the body was understood but refused; ``messages`` name the fields (dataPath)."""


class RateLimitedError(HttpError):
    """429 after the retry budget ran out."""


class ServerError(HttpError):
    """5xx: after the retry budget ran out, or at once for a non-idempotent request."""


# No (usable) answer ------------------------------------------------------------------------


class TransportError(AtsError):
    """No usable answer: connection failure, timeout, reset, truncated body."""


class ResponseDecodeError(TransportError):
    """A 2xx whose body is not the JSON it claims to be (e.g. truncated)."""


class OutcomeUnknownError(TransportError):
    """A non-idempotent request (POST/PATCH) was sent but no answer arrived (timeout, reset,
    truncated body). It may or may not have taken effect, so it was NOT retried: look the
    object up before trying again."""


_BY_STATUS: dict[int, type[HttpError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationFailedError,
    429: RateLimitedError,
}


def error_for_status(status: int) -> type[HttpError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, HttpError)


def parse_error_body(body: Any) -> tuple[str, list[dict[str, Any]]]:
    """(message, errors) from a SmartRecruiters error body, tolerating other shapes."""
    if isinstance(body, dict):
        errors = body.get("errors")
        items = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
        if "error" in body and not items:  # RFC 6749 token errors
            items = [{"code": str(body["error"]), "message": body.get("error_description", "")}]
        message = body.get("message") or body.get("error_description") or ""
        if not message and items:
            message = str(items[0].get("message", ""))
        return str(message), items
    return "", []
