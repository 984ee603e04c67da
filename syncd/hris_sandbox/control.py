"""``/_sandbox/…``: the company's truth for tests (snapshot, stats) and levers to change it
(reset, activate an employee, faults, limits, settings, credentials, token expiry). Never
authenticated, limited or faulted. Bad input is answered 400 ``{"error": "..."}`` naming the
field and what it accepts."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.hris_sandbox.faults import KINDS, FaultRule, Faults, FaultSpecError, parse_rates
from syncd.hris_sandbox.server import HrisSandbox, sandbox_of
from syncd.hris_sandbox.state import Credential, today
from syncd.sandbox.jsonresp import json_response


class ControlError(Exception):
    """Bad control input; answered 400 ``{"error": message}``."""


def _bad(message: str) -> Response:
    return json_response({"error": message}, 400)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ControlError("body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError("body: expected a JSON object")
    return body


def _typed(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``body[name]`` if it is of ``kind`` (booleans are not numbers), None when absent."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ControlError(f"'{name}': expected {what}")
    return value


def snapshot(sb: HrisSandbox) -> dict[str, Any]:
    """The truth: employees (vendor field names), webhooks (with keys) and deliveries."""
    return {
        "vendor": sb.vendor.name,
        "today": today().isoformat(),
        "employees": [dict(e) for e in sb.store],
        "webhooks": [dict(w) for w in sb.webhooks.values()],
        "deliveries": list(sb.deliveries),
    }


async def get_snapshot(request: Request) -> Response:
    return json_response(snapshot(sandbox_of(request)))


async def get_stats(request: Request) -> Response:
    sb = sandbox_of(request)
    return json_response(
        {
            "stats": dict(sb.stats),
            "faults": dict(sb.faults.counts),
            # Requests a ``hang`` holds now, and how long each client waited before giving up.
            "hanging": sb.faults.hanging,
            "abandoned": list(sb.faults.abandoned),
            "throttled": sb.limiter.refused,
            "employees": len(sb.store),
        }
    )


async def post_reset(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.faults.release()  # requests a hang holds are let go with the old plan
    sb.reset()
    return json_response({"reset": True, "employees": len(sb.store)})


async def post_activate(request: Request) -> Response:
    sb = sandbox_of(request)
    emp = sb.store.get(request.path_params["employeeId"])
    if emp is None:
        return json_response({"error": "no employee with that id"}, 404)
    sb.vendor.activate(sb, emp)
    return json_response(emp)


def _rule(sb: HrisSandbox, i: int, item: Any) -> FaultRule:
    if not isinstance(item, dict):
        raise ControlError(f'queue[{i}]: expected an object like {{"kind": "503", "count": 2}}')
    kind = str(item.get("kind", ""))
    if kind not in KINDS:
        raise ControlError(f"queue[{i}].kind: use one of {', '.join(KINDS)}")
    count = _typed(item, "count", int, "a whole number")
    count = 1 if count is None else count
    retry = _typed(item, "retryAfter", int, "whole seconds")
    retry = 1 if retry is None else retry
    op = _typed(item, "op", str, "an operation name")
    if op is not None and op not in _ops(sb):
        raise ControlError(f"queue[{i}].op: '{op}' unknown; use one of {', '.join(_ops(sb))}")
    if count < 1 or retry < 0:
        raise ControlError(f"queue[{i}]: count must be >= 1 and retryAfter >= 0")
    return FaultRule(kind, count, op, retry)


def _ops(sb: HrisSandbox) -> list[str]:
    return sorted({str(getattr(r, "name", "")) for r in sb.routes})


_FAULT_KEYS = frozenset({"queue", "rates", "rateOps", "seed", "timeoutSeconds", "retryAfter"})


async def post_faults(request: Request) -> Response:
    """Replace the fault plan. Body: ``queue`` (list of ``{kind, count, op, retryAfter}``),
    ``rates`` (``"503=0.05,lost=0.02"``), ``rateOps`` (operations the rates apply to),
    ``seed``, ``timeoutSeconds``, ``retryAfter``. ``{}`` clears every fault. Requests the
    plan being replaced hangs (kind ``hang``) are let go with a 504, nothing written."""
    sb = sandbox_of(request)
    body = await _body(request)
    unknown = sorted(set(body) - _FAULT_KEYS)
    if unknown:
        raise ControlError(
            f"'{unknown[0]}': not a fault plan key; use {', '.join(sorted(_FAULT_KEYS))}"
        )
    queue_in = body.get("queue") or []
    if not isinstance(queue_in, list):
        raise ControlError("'queue': expected a list of fault objects")
    queue = [_rule(sb, i, item) for i, item in enumerate(queue_in)]
    try:
        rates = parse_rates(_typed(body, "rates", str, 'a string like "503=0.05"') or "")
    except FaultSpecError as exc:
        raise ControlError(str(exc)) from None
    rate_ops_in = body.get("rateOps")
    rate_ops = None
    if rate_ops_in is not None:
        if not isinstance(rate_ops_in, list) or not all(o in _ops(sb) for o in rate_ops_in):
            raise ControlError(f"'rateOps': expected a list of {', '.join(_ops(sb))}")
        rate_ops = frozenset(rate_ops_in)
    timeout = _typed(body, "timeoutSeconds", (int, float), "seconds")
    seed = _typed(body, "seed", int, "a whole number")
    retry = _typed(body, "retryAfter", int, "whole seconds")
    sb.faults.release()  # requests the old plan hangs are let go (answered 504)
    sb.faults = Faults(
        sb.options.seed if seed is None else seed,
        queue=queue,
        rates=rates,
        rate_ops=rate_ops,
        timeout_seconds=float(sb.options.fault_timeout_seconds if timeout is None else timeout),
        retry_after=1 if retry is None else retry,
    )
    return json_response(sb.faults.describe())


async def post_limits(request: Request) -> Response:
    """Body: ``enabled`` (bool), ``throttleStatus`` (429 or 503), ``rules`` (by rule name,
    ``{"perSecond": …, "capacity": …}`` to change a limit, e.g. a near-zero refill so a test
    sees exactly ``capacity`` requests pass). Any change starts every bucket full."""
    sb = sandbox_of(request)
    body = await _body(request)
    enabled = _typed(body, "enabled", bool, "true or false")
    status = _typed(body, "throttleStatus", int, "429 or 503")
    if status is not None and status not in (429, 503):
        raise ControlError("'throttleStatus': expected 429 or 503")
    rules = _typed(body, "rules", dict, "an object of rule name -> {perSecond, capacity}") or {}
    names = [r.name for r in sb.limiter.rules]
    for name, change in rules.items():
        if name not in names or not isinstance(change, dict):
            raise ControlError(f"'rules': '{name}' unknown; the rules are {', '.join(names)}")
        rate = _typed(change, "perSecond", (int, float), "requests per second")
        cap = _typed(change, "capacity", (int, float), "a number of requests")
        if (rate is not None and rate <= 0) or (cap is not None and cap < 1):
            raise ControlError(f"'rules.{name}': perSecond must be > 0 and capacity >= 1")
        i = names.index(name)
        old = sb.limiter.rules[i]
        sb.limiter.rules[i] = dataclasses.replace(
            old,
            per_second=float(old.per_second if rate is None else rate),
            capacity=float(old.capacity if cap is None else cap),
        )
    if enabled is not None:
        sb.limiter.enabled = enabled
    sb.limiter.buckets.clear()
    if status is not None:
        sb.settings.throttle_status = status
    return json_response({**sb.limiter.describe(), "throttleStatus": sb.settings.throttle_status})


async def post_settings(request: Request) -> Response:
    """Body: ``newEmployeeStatus`` (a vendor status, or null for the vendor's own rule),
    ``tokenTtl`` (seconds, Personio bearers issued from now on)."""
    sb = sandbox_of(request)
    body = await _body(request)
    if "newEmployeeStatus" in body:
        status = _typed(body, "newEmployeeStatus", str, "a status name or null")
        allowed = sb.vendor.statuses()
        if status is not None and status not in allowed:
            raise ControlError(f"'newEmployeeStatus': use one of {', '.join(allowed)} or null")
        sb.settings.new_employee_status = status
    ttl = _typed(body, "tokenTtl", int, "whole seconds")
    if ttl is not None:
        if ttl < 1:
            raise ControlError("'tokenTtl': expected at least 1 second")
        sb.settings.token_ttl = ttl
    return json_response(
        {
            "newEmployeeStatus": sb.settings.new_employee_status,
            "throttleStatus": sb.settings.throttle_status,
            "tokenTtl": sb.settings.token_ttl,
        }
    )


async def post_tokens_expire(request: Request) -> Response:
    sb = sandbox_of(request)
    for token in sb.tokens.values():
        token.expires_at = 0.0
    return json_response({"expired": len(sb.tokens)})


async def post_credentials(request: Request) -> Response:
    """Add a credential, e.g. one that lacks a permission. Body: ``apiKey`` (BambooHR) or
    ``clientId`` with ``clientSecret`` (Personio), and ``scopes`` (default: all)."""
    sb = sandbox_of(request)
    body = await _body(request)
    scopes_in = body.get("scopes", sorted(sb.vendor.scopes))
    if not isinstance(scopes_in, list) or not set(scopes_in) <= sb.vendor.scopes:
        raise ControlError(f"'scopes': expected a list of {', '.join(sorted(sb.vendor.scopes))}")
    scopes = frozenset(scopes_in)
    key = _typed(body, "apiKey", str, "a string")
    cid = _typed(body, "clientId", str, "a string")
    secret = _typed(body, "clientSecret", str, "a string")
    if sb.vendor.uses_client_secret:
        if not (cid and secret):
            raise ControlError("give 'clientId' and 'clientSecret' (Personio credentials)")
        sb.credentials[cid] = Credential(cid, scopes, secret)
    elif key:
        sb.credentials[key] = Credential(key, scopes)
    else:
        raise ControlError("give 'apiKey' (a BambooHR API key)")
    return json_response({"created": True, "scopes": sorted(scopes)}, 201)


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "vendor": sandbox_of(request).vendor.name})


def _guard(handler: Any) -> Any:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return _bad(str(exc))

    return wrapped


P = "/_sandbox"
ROUTES = [
    Route("/health", health),
    Route(f"{P}/snapshot", get_snapshot),
    Route(f"{P}/stats", get_stats),
    Route(f"{P}/reset", post_reset, methods=["POST"]),
    Route(f"{P}/employees/{{employeeId}}/activate", post_activate, methods=["POST"]),
    Route(f"{P}/faults", _guard(post_faults), methods=["POST"]),
    Route(f"{P}/limits", _guard(post_limits), methods=["POST"]),
    Route(f"{P}/settings", _guard(post_settings), methods=["POST"]),
    Route(f"{P}/tokens/expire", post_tokens_expire, methods=["POST"]),
    Route(f"{P}/credentials", _guard(post_credentials), methods=["POST"]),
]
