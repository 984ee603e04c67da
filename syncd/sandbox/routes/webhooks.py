"""Webhooks API (``/webhooks-api/v201907``): subscriptions, the activation handshake, secret keys
and the callbacks log; plus ``/_sandbox/webhooks`` levers for tests (truth, settings, flush).

Lists are bare JSON arrays paged with ``page_id`` (snake case) and ``limit`` (1-100, default 10),
the next page in the ``Link`` header. Subscriptions belong to the credential that made them: it
alone sees and manages them, and it may hold at most 20. Deliveries are ``webhooks_out``'s job.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request, not_found, unprocessable
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.paging import (
    cursor_page,
    decode_token,
    encode_token,
    filters_key,
    invalid_page_id,
    next_link,
    query_int,
)
from syncd.sandbox.routes.common import base, query_time
from syncd.sandbox.server import credential_of, sandbox_of
from syncd.sandbox.validate import Field, check, read_json
from syncd.sandbox.webhooks_out import EVENT_NAMES, WebhookEngine, engine_of, register

register()

P = "/webhooks-api/v201907/subscriptions"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AUTH_FIELDS = {
    "basic": ("username", "password"),
    "header": ("headerName", "headerValue"),
    "oauth2": ("clientId", "clientSecret", "tokenServiceUrl"),
}
READ = ("webhooks_read", "webhooks_manage")
WRITE = ("webhooks_write", "webhooks_manage")
DELETE = ("webhooks_delete", "webhooks_manage")


# ---- helpers ---------------------------------------------------------------------------------
def _engine(request: Request) -> WebhookEngine:
    engine = engine_of(sandbox_of(request))
    engine.base_url = base(request)
    engine.bind_loop()
    return engine


def _allow(request: Request, scopes: tuple[str, ...]) -> None:
    if not set(scopes) & credential_of(request).scopes:
        raise ApiError(
            403,
            "NO_PERMISSION_TO_MANAGE_WEBHOOKS",
            f"Missing required scope: one of {', '.join(scopes)}",
        )


def _subscription(request: Request, engine: WebhookEngine) -> dict[str, Any]:
    sub_id = request.path_params["id"]
    sub = engine.t.subscriptions.get(sub_id)
    if sub is None:
        raise not_found("SUBSCRIPTION_NOT_FOUND", f"Subscription with id {sub_id} not found")
    if sub["owner"] != credential_of(request).key:
        raise ApiError(
            403,
            "NO_PERMISSION_TO_MANAGE_WEBHOOKS",
            f"Subscription {sub_id} belongs to another subscriber",
        )
    return sub


def render(sub: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sub["id"],
        "callbackUrl": sub["callbackUrl"],
        "events": sub["events"],
        "status": sub["status"],
    }
    if "alertingEmailAddress" in sub:
        out["alertingEmailAddress"] = sub["alertingEmailAddress"]
    auth = sub.get("callbackAuthentication")
    if auth:
        # Never echo credentials: only what identifies the scheme.
        shown = {"type": auth["type"]}
        if auth["type"] == "header":
            shown["headerName"] = auth["headerName"]
        elif auth["type"] == "basic":
            shown["username"] = auth["username"]
        else:
            shown["clientId"] = auth["clientId"]
            shown["tokenServiceUrl"] = auth["tokenServiceUrl"]
        out["callbackAuthentication"] = shown
    return out


def url_problem(value: Any, name: str) -> str | None:
    """Why ``value`` is not a usable callback URL, or None. The API wants https; the sandbox also
    takes plain http to a loopback host so local receivers need no certificate."""
    if not isinstance(value, str) or not value.strip():
        return f"'{name}' must be a URL string"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return f"'{name}' is not a valid URL: '{value}'"
    if parts.scheme not in ("http", "https") or not host:
        return f"'{name}' must be an https URL with a host, got '{value}'"
    if parts.scheme == "http" and host not in LOOPBACK:
        return f"'{name}' must use https (plain http only to 127.0.0.1/localhost), got '{value}'"
    if len(value) > 2048:
        return f"'{name}' is longer than 2048 characters"
    return None


def validate_subscription(body: Any) -> dict[str, Any]:
    """400 for a body that is not a JSON object; otherwise 422 naming every bad field."""
    check(body, {})
    problems: list[tuple[str, str]] = []
    if body.get("callbackUrl") is None:
        problems.append(("callbackUrl", "'callbackUrl' is required"))
    elif (why := url_problem(body["callbackUrl"], "callbackUrl")) is not None:
        problems.append(("callbackUrl", why))
    events = body.get("events")
    if events is None:
        problems.append(("events", "'events' is required"))
    elif not isinstance(events, list) or not events:
        problems.append(("events", "'events' must be a non-empty array of event names"))
    else:
        seen: set[str] = set()
        for i, ev in enumerate(events):
            if not isinstance(ev, str) or ev not in EVENT_NAMES:
                problems.append(
                    (f"events[{i}]", f"Unknown event name {ev!r}; see the EventName enumeration")
                )
            elif ev in seen:
                problems.append((f"events[{i}]", f"Event name '{ev}' is listed twice"))
            else:
                seen.add(ev)
    email = body.get("alertingEmailAddress")
    if email is not None and (not isinstance(email, str) or not EMAIL.match(email)):
        problems.append(("alertingEmailAddress", "'alertingEmailAddress' must be an email address"))
    auth = body.get("callbackAuthentication")
    if auth is not None:
        problems += _auth_problems(auth)
    if problems:
        raise unprocessable(problems, "Incorrect subscription data")
    return body


def _auth_problems(auth: Any) -> list[tuple[str, str]]:
    name = "callbackAuthentication"
    if not isinstance(auth, dict):
        return [(name, f"'{name}' must be an object")]
    kind = auth.get("type")
    if kind not in AUTH_FIELDS:
        return [(f"{name}.type", f"'{name}.type' must be one of basic, header, oauth2")]
    problems = []
    for f in AUTH_FIELDS[kind]:
        if not isinstance(auth.get(f), str) or not auth[f]:
            problems.append((f"{name}.{f}", f"'{name}.{f}' is required for type '{kind}'"))
    header = auth.get("headerName")
    if kind == "header" and isinstance(header, str) and not header.lower().startswith("x-"):
        problems.append((f"{name}.headerName", f"'{name}.headerName' must start with 'X-'"))
    if kind == "oauth2" and isinstance(auth.get("tokenServiceUrl"), str):
        why = url_problem(auth["tokenServiceUrl"], f"{name}.tokenServiceUrl")
        if why:
            problems.append((f"{name}.tokenServiceUrl", why))
    return problems


def _link_header(request: Request, token: str | None) -> dict[str, str]:
    return {"Link": next_link(request, "page_id", token)} if token else {}


# ---- subscriptions ---------------------------------------------------------------------------
async def create_subscription(request: Request) -> Response:
    _allow(request, WRITE)
    engine = _engine(request)
    body = validate_subscription(await read_json(request))
    sub = engine.create(credential_of(request).key, body)
    return json_response(render(sub), 201)


async def list_subscriptions(request: Request) -> Response:
    _allow(request, READ)
    engine = _engine(request)
    limit = query_int(request, "limit", 10, 1, 100)
    owner = credential_of(request).key
    content, _, token = cursor_page(
        request,
        engine.order,
        keep=lambda s: s["owner"] == owner,
        render=render,
        limit=limit,
        filters=filters_key(request) + f"|{owner}",
        token_param="page_id",
    )
    return json_response(content, 200, _link_header(request, token))


async def get_subscription(request: Request) -> Response:
    _allow(request, READ)
    return json_response(render(_subscription(request, _engine(request))))


async def delete_subscription(request: Request) -> Response:
    _allow(request, DELETE)
    engine = _engine(request)
    engine.delete(_subscription(request, engine))
    return empty(204)


async def activate(request: Request) -> Response:
    _allow(request, WRITE)
    engine = _engine(request)
    await engine.handshake(_subscription(request, engine))
    return empty(204)


async def create_secret_key(request: Request) -> Response:
    _allow(request, WRITE)
    engine = _engine(request)
    key = engine.new_key(_subscription(request, engine))
    return json_response({"secretKey": key}, 201)


async def get_secret_key(request: Request) -> Response:
    _allow(request, READ)
    engine = _engine(request)
    sub = _subscription(request, engine)
    if not sub["keys"]:
        raise not_found(
            "SECRET_KEY_NOT_FOUND",
            "This subscription has no secret key; create one with POST …/secret-key",
        )
    return json_response({"secretKey": sub["keys"][-1]["key"]})


async def callbacks_log(request: Request) -> Response:
    """Newest first. The page token holds the absolute position of the next (older) entry, so
    entries logged while a client pages do not shift its pages."""
    _allow(request, READ)
    engine = _engine(request)
    sub = _subscription(request, engine)
    limit = query_int(request, "limit", 10, 1, 100)
    status = request.query_params.get("callbackStatus")
    if status is not None and status not in ("successful", "failed"):
        raise bad_request(
            "INVALID_PARAMETER",
            f"Query parameter 'callbackStatus' must be successful or failed; got '{status}'",
        )
    after = query_time(request, "after")
    before = query_time(request, "before")
    entries, dropped = sub["log"], sub["logDropped"]
    fkey = filters_key(request, "page_id") + f"|{sub['id']}"
    token = request.query_params.get("page_id")
    if token:
        pos, _ = decode_token(token, fkey)
        if pos > dropped + len(entries):
            raise invalid_page_id()
    else:
        pos = dropped + len(entries)  # one past the newest
    content: list[dict[str, Any]] = []
    i = pos - 1
    while i >= dropped and len(content) < limit:
        e = entries[i - dropped]
        i -= 1
        if status and e["status"] != status:
            continue
        if after and e["timestamp"] <= after:
            continue
        if before and e["timestamp"] >= before:
            continue
        content.append(e)
    more = i >= dropped and len(content) == limit
    next_token = encode_token(i + 1, 0, fkey) if more else None
    return json_response(content, 200, _link_header(request, next_token))


# ---- /_sandbox levers --------------------------------------------------------------------------
async def sandbox_truth(request: Request) -> Response:
    engine = _engine(request)
    subs = [
        {
            **render(s),
            "owner": s["owner"],
            "createdOn": s["createdOn"],
            "validKeys": len(engine.valid_keys(s)),
            "logEntries": s["logDropped"] + len(s["log"]),
        }
        for s in engine.t.subscriptions.values()
    ]
    return json_response(
        {
            "settings": engine.settings.public(),
            "subscriptions": subs,
            "counts": engine.counts(),
            "deliveries": [d.public() for d in engine.deliveries.values()],
        }
    )


async def sandbox_settings(request: Request) -> Response:
    raw = await request.body()
    body = check(
        await read_json(request) if raw.strip() else {},
        {
            "retryScale": Field((int, float)),
            "deliveryTimeoutSeconds": Field((int, float)),
            "handshakeTimeoutSeconds": Field((int, float)),
            "autoRetry": Field(bool),
            "concurrencyPerSubscription": Field(int),
        },
    )
    s = _engine(request).settings
    for name in ("retryScale", "deliveryTimeoutSeconds", "handshakeTimeoutSeconds"):
        if name in body and body[name] < 0:
            raise bad_request("INVALID_SETTINGS", f"'{name}' must be zero or more")
    s.retry_scale = float(body.get("retryScale", s.retry_scale))
    s.delivery_timeout = float(body.get("deliveryTimeoutSeconds", s.delivery_timeout))
    s.handshake_timeout = float(body.get("handshakeTimeoutSeconds", s.handshake_timeout))
    s.auto_retry = body.get("autoRetry", s.auto_retry)
    if "concurrencyPerSubscription" in body:
        if not 1 <= body["concurrencyPerSubscription"] <= 100:
            raise bad_request(
                "INVALID_SETTINGS", "'concurrencyPerSubscription' must be between 1 and 100"
            )
        s.concurrency = body["concurrencyPerSubscription"]
    return json_response(s.public())


async def sandbox_flush(request: Request) -> Response:
    raw = await request.body()
    body = check(
        await read_json(request) if raw.strip() else {},
        {"retries": Field(str, enum=("due", "all", "none"))},
    )
    return json_response(await _engine(request).flush(body.get("retries", "due")))


ROUTES = [
    Route(P, create_subscription, methods=["POST"]),
    Route(P, list_subscriptions, methods=["GET"]),
    Route(P + "/{id}", get_subscription, methods=["GET"]),
    Route(P + "/{id}", delete_subscription, methods=["DELETE"]),
    Route(P + "/{id}/activation", activate, methods=["PUT"]),
    Route(P + "/{id}/secret-key", create_secret_key, methods=["POST"]),
    Route(P + "/{id}/secret-key", get_secret_key, methods=["GET"]),
    Route(P + "/{id}/callbacks-log", callbacks_log, methods=["GET"]),
    Route("/_sandbox/webhooks", sandbox_truth, methods=["GET"]),
    Route("/_sandbox/webhooks/settings", sandbox_settings, methods=["POST"]),
    Route("/_sandbox/webhooks/flush", sandbox_flush, methods=["POST"]),
]
