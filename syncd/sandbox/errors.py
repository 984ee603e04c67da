"""SmartRecruiters error bodies: ``{message, errors: [{code, message}]}``; 422 uses
``{message, errors: [{dataPath, message}]}``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from syncd.sandbox.jsonresp import json_response


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors if errors is not None else [{"code": code, "message": message}]
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(
            {"message": self.message, "errors": self.errors}, self.status, self.headers
        )


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def unprocessable(
    problems: list[tuple[str, str]], message: str = "Input validation failed"
) -> ApiError:
    """422 with one ``{dataPath, message}`` per problem."""
    return ApiError(
        422,
        "VALIDATION_FAILED",
        message,
        errors=[{"dataPath": path, "message": msg} for path, msg in problems],
    )
