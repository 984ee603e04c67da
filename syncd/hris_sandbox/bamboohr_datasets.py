"""BambooHR's Datasets API, the lookup path: ``POST /api/v2/datasets/{datasetName}/data`` with an
OData-style ``filter`` (``eq ne lt le gt ge``, ``in (…)``, ``and``, ``or``, parentheses),
``orderBy``, ``page``/``pageSize``; plus the dataset catalogue and field list (v1.2). One
dataset is modelled: ``employee``. Errors are RFC 7807 problem bodies (spec,
get-data-from-dataset-v2). String comparisons ignore case."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.hris_sandbox.bamboohr import field_value, require
from syncd.hris_sandbox.server import sandbox_of
from syncd.hris_sandbox.vendor import ApiError
from syncd.sandbox.jsonresp import json_response

DATASET = "employee"
# (name, label, section): the employee dataset's fields.
DATASET_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("employeeId", "Employee ID", "Personal"),
    ("employeeNumber", "Employee #", "Personal"),
    ("firstName", "First Name", "Personal"),
    ("lastName", "Last Name", "Personal"),
    ("preferredName", "Preferred Name", "Personal"),
    ("workEmail", "Work Email", "Contact"),
    ("jobTitle", "Job Title", "Job"),
    ("department", "Department", "Job"),
    ("division", "Division", "Job"),
    ("location", "Location", "Job"),
    ("hireDate", "Hire Date", "Job"),
    ("status", "Status", "Personal"),
)
NAMES = frozenset(n for n, _, _ in DATASET_FIELDS)
Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """A filter or orderBy the dataset cannot use; answered 422 with the message."""


def problem(status: int, title: str, detail: str) -> ApiError:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return ApiError(json_response(body, status, headers={"X-BambooHR-Error-Message": detail}))


TOKEN = re.compile(
    r"\s*(?:(?P<punct>[(),])|'(?P<str>(?:[^']|'')*)'|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
OPS = ("eq", "ne", "lt", "le", "gt", "ge")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise FilterError(f"cannot read the filter at character {pos + 1}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, value.replace("''", "'") if kind == "str" else value))
        pos = m.end()
    return out


def _key(v: Any) -> tuple[int, float, str]:
    s = "" if v is None else str(v)
    try:
        return (0, float(s), "")
    except ValueError:
        return (1, 0.0, s.lower())


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("eq", "ne"):
        same = (left is None and right is None) or (
            left is not None and right is not None and str(left).lower() == str(right).lower()
        )
        return same if op == "eq" else not same
    if left is None or right is None:
        return False
    a, b = _key(left), _key(right)
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("the filter ends too early")
        self.i += 1
        return tok

    def word(self, w: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == w:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek() is not None:
            raise FilterError(f"unexpected '{self.peek()[1]}'")  # type: ignore[index]
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.word("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.term()]
        while self.word("and"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def value(self) -> Any:
        kind, v = self.take()
        if kind in ("str", "num"):
            return v
        if kind == "word" and v.lower() == "null":
            return None
        raise FilterError(f"expected a value like 'text' or 42, got '{v}'")

    def term(self) -> Predicate:
        kind, v = self.take()
        if kind == "punct" and v == "(":
            inner = self.disjunction()
            if self.take() != ("punct", ")"):
                raise FilterError("missing ')'")
            return inner
        if kind != "word" or v not in NAMES:
            raise FilterError(
                f"unknown field '{v}'; the employee dataset has {', '.join(sorted(NAMES))}"
            )
        name = v
        if self.word("in"):
            if self.take() != ("punct", "("):
                raise FilterError("'in' needs a list like ('a','b')")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.i += 1
                values.append(self.value())
            if self.take() != ("punct", ")"):
                raise FilterError("missing ')' after the 'in' list")
            return lambda e: any(_compare("eq", field_value(e, name), x) for x in values)
        op_kind, op = self.take()
        if op_kind != "word" or op.lower() not in OPS:
            raise FilterError(f"expected one of {', '.join(OPS)} or in after '{name}'")
        target = self.value()
        return lambda e: _compare(op.lower(), field_value(e, name), target)


def compile_filter(text: str) -> Predicate:
    """An OData-style filter -> predicate over an employee record; raises FilterError."""
    return _Parser(text).parse()


def _order(text: str, fields: list[str]) -> list[tuple[str, bool]]:
    rules = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in fields or direction not in ("asc", "desc"):
            raise FilterError(f"orderBy '{part}': a requested field followed by asc or desc")
        rules.append((name, direction == "desc"))
    return rules


def _int(body: dict[str, Any], name: str, default: int, top: int) -> int:
    v = body.get(name, default)
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= top:
        raise problem(422, "Validation failed", f"{name} must be an integer from 1 to {top}")
    return v


async def post_data(request: Request) -> Response:
    """``POST /api/v2/datasets/employee/data``: rows of ``{"fields": {name: string}}`` with
    ``links`` and ``meta``; 400/404/422 problem bodies."""
    sb = sandbox_of(request)
    require(request, "report")
    if request.path_params["datasetName"] != DATASET:
        raise problem(404, "Not Found", f"No dataset named '{request.path_params['datasetName']}'")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise problem(400, "Bad Request", "The request body is not valid JSON") from None
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise problem(400, "Bad Request", "'fields' is required: a list of field names")
    unknown = [f for f in fields if f not in NAMES]
    if unknown:
        raise problem(400, "Bad Request", f"Unknown field '{unknown[0]}' in 'fields'")
    page = _int(body, "page", 1, 1_000_000)
    size = _int(body, "pageSize", 100, 1000)
    try:
        pred = compile_filter(body["filter"]) if body.get("filter") else None
        order = _order(body["orderBy"], fields) if body.get("orderBy") else []
    except FilterError as exc:
        raise problem(422, "Validation failed", str(exc)) from None
    rows = [e for e in sb.store if pred is None or pred(e)]
    for name, desc in reversed(order):
        rows.sort(key=lambda e, n=name: _key(field_value(e, n)), reverse=desc)  # type: ignore[misc]
    total = len(rows)
    pages = max(1, math.ceil(total / size))
    chunk = rows[(page - 1) * size : page * size]
    url = str(request.url.replace(query=""))
    data = [
        {"fields": {f: "" if (v := field_value(e, f)) is None else str(v) for f in fields}}
        for e in chunk
    ]
    return json_response(
        {
            "data": data,
            "links": {
                "next": f"{url}?page={page + 1}&pageSize={size}" if page < pages else None,
                "prev": f"{url}?page={page - 1}&pageSize={size}" if page > 1 else None,
            },
            "meta": {"page": page, "pageSize": size, "totalPages": pages, "totalItems": total},
        }
    )


async def get_datasets(request: Request) -> Response:
    require(request, "report")
    return json_response({"datasets": [{"name": DATASET, "label": "Employee"}]})


async def get_fields(request: Request) -> Response:
    require(request, "report")
    if request.path_params["datasetName"] != DATASET:
        raise problem(422, "Validation failed", "Unknown dataset")
    listed = [
        {
            "name": name,
            "label": label,
            "parentType": "page",
            "parentName": section,
            "entityName": section.lower(),
        }
        for name, label, section in DATASET_FIELDS
    ]
    return json_response(
        {
            "pagination": {
                "total_records": len(listed),
                "current_page": 1,
                "total_pages": 1,
                "next_page": None,
                "prev_page": None,
            },
            "name": DATASET,
            "label": "Employee",
            "fields": listed,
        }
    )


ROUTES = [
    Route("/api/v2/datasets/{datasetName}/data", post_data, methods=["POST"], name="dataset"),
    Route("/api/v1_2/datasets", get_datasets, name="datasets"),
    Route("/api/v1_2/datasets/{datasetName}/fields", get_fields, name="dataset_fields"),
]
