"""Request checks that answer the way the API does: 400 with ``{code, message}`` errors, or 422
with ``{dataPath, message}`` errors, naming every bad field at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from syncd.sandbox.errors import ApiError, bad_request, unprocessable


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = False
    enum: tuple[str, ...] | None = None


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise bad_request("INVALID_REQUEST_BODY", "Request body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request("INVALID_REQUEST_BODY", f"Malformed JSON: {exc}") from None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        list: "array",
        dict: "object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check(
    body: Any, fields: dict[str, Field], *, status: int = 400, code: str = "INVALID_REQUEST_BODY"
) -> dict[str, Any]:
    """Validate a JSON object body; returns it. Raises one ApiError naming every problem."""
    if not isinstance(body, dict):
        problems = [("", "Request body must be a JSON object")]
    else:
        problems = []
        for name, spec in fields.items():
            value = body.get(name)
            if value is None:
                if spec.required:
                    problems.append((name, f"'{name}' is required"))
                continue
            kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
            # bool is an int in Python; JSON keeps them apart.
            if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
                problems.append((name, f"'{name}' must be {_kind_name(spec.kind)}"))
            elif spec.enum is not None and value not in spec.enum:
                problems.append(
                    (name, f"'{name}' must be one of {', '.join(spec.enum)}; got '{value}'")
                )
    if not problems:
        return body
    if status == 422:
        raise unprocessable(problems)
    message = "; ".join(msg for _, msg in problems)
    raise ApiError(
        status, code, message, errors=[{"code": code, "message": msg} for _, msg in problems]
    )
