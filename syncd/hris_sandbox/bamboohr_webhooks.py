"""BambooHR's permissioned webhooks: create/list/get/delete through ``/api/v1/webhooks`` (spec,
Webhooks tag) and event-based deliveries ``employee.created|updated|deleted`` (BambooHR's
"Event-Based Webhooks" guide): ``{"type", "timestamp", "data": {"companyId", "employeeId",
"changedFields"}}``.

Signature (BambooHR's "Webhooks" guide): ``X-BambooHR-Timestamp`` is the Unix time in seconds;
``X-BambooHR-Signature`` is the lowercase hex HMAC-SHA256 of the raw body followed by that
timestamp, keyed with the webhook's ``privateKey`` (returned once, at creation).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.hris_sandbox.bamboohr import credential_of, require
from syncd.hris_sandbox.server import HrisSandbox, sandbox_of
from syncd.hris_sandbox.vendor import ApiError
from syncd.sandbox.jsonresp import json_response

EVENTS = ("employee.created", "employee.updated", "employee.deleted")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ATTEMPTS = 3
PUBLIC = (
    "id",
    "name",
    "created",
    "lastSent",
    "monitorFields",
    "postFields",
    "url",
    "format",
    "includeCompanyDomain",
    "events",
)


def sign(private_key: str, body: bytes, timestamp: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``body + timestamp`` keyed with ``private_key``."""
    return hmac.new(private_key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _webhook_error(status: int, message: str) -> ApiError:
    return ApiError(json_response({"errors": [{"error": message}]}, status))


def _issues(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    issues = [f"'{k}' is required" for k in ("name", "url", "format") if not body.get(k)]
    types = {
        "name": str,
        "url": str,
        "format": str,
        "monitorFields": list,
        "postFields": dict,
        "includeCompanyDomain": bool,
        "events": list,
    }
    for key, kind in types.items():
        if key in body and not isinstance(body[key], kind):
            issues.append(f"'{key}' must be a {kind.__name__} (NewWebHook schema)")
    if any(not isinstance(f, str) for f in body.get("monitorFields") or []):
        issues.append("'monitorFields' must be a list of field names")
    url = body.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        loopback_http = parts.scheme == "http" and parts.hostname in LOOPBACK
        if parts.scheme != "https" and not loopback_http:
            issues.append("'url' must begin with https:// (http:// only to a loopback host)")
    if body.get("format") not in (None, "", "json"):
        issues.append("'format': the sandbox delivers json only")
    events = body.get("events")
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        issues.append(f"'events': a list of {', '.join(EVENTS)}")
    elif "employee.updated" in events:
        monitor = body.get("monitorFields")
        if not isinstance(monitor, list) or not monitor:
            issues.append("'monitorFields' is required when events include employee.updated")
    return issues


async def create_webhook(request: Request) -> Response:
    """``POST /api/v1/webhooks``: 201 with ``privateKey`` (only here); 400 listing the issues."""
    sb = sandbox_of(request)
    require(request, "webhooks")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    issues = _issues(body)
    if issues:
        raise ApiError(
            json_response({"errors": [{"error": "Invalid request body", "issues": issues}]}, 400)
        )
    wid = sb.next_webhook_id
    sb.next_webhook_id += 1
    hook = {
        "id": str(wid),
        "name": body["name"],
        "created": _stamp(),
        "lastSent": None,
        "monitorFields": body.get("monitorFields") or None,
        "postFields": body.get("postFields") or {},
        "url": body["url"],
        "format": "json",
        "includeCompanyDomain": bool(body.get("includeCompanyDomain")),
        "events": list(body["events"]),
        "privateKey": secrets.token_hex(32),
        "owner": credential_of(request).key,
    }
    sb.webhooks[wid] = hook
    return json_response({k: hook[k] for k in (*PUBLIC, "privateKey")}, 201)


def _owned(request: Request) -> dict[str, Any]:
    sb = sandbox_of(request)
    require(request, "webhooks")
    raw = request.path_params["id"]
    hook = sb.webhooks.get(int(raw)) if raw.isdigit() else None
    if hook is None:
        raise _webhook_error(404, f"No webhook was found with ID: {raw}.")
    if hook["owner"] != credential_of(request).key:
        raise _webhook_error(403, f"You do not have access to webhook ID: {raw}")
    return hook


async def list_webhooks(request: Request) -> Response:
    sb = sandbox_of(request)
    require(request, "webhooks")
    me = credential_of(request).key
    rows = [
        {k: h[k] for k in ("id", "name", "created", "lastSent", "url")}
        for h in sb.webhooks.values()
        if h["owner"] == me
    ]
    return json_response({"webhooks": rows})


async def get_webhook(request: Request) -> Response:
    hook = _owned(request)
    return json_response({k: hook[k] for k in PUBLIC})


async def delete_webhook(request: Request) -> Response:
    hook = _owned(request)
    del sandbox_of(request).webhooks[int(hook["id"])]
    return Response(b"Web hook has been deleted.", 200, media_type="text/plain")


def emit(sb: HrisSandbox, event: str, employee: dict[str, Any], changed: list[str]) -> None:
    """Queue a delivery to every webhook subscribed to ``event`` (``employee.updated`` only when
    a changed field is monitored). Deliveries run in the background and are recorded in
    ``sb.deliveries``."""
    for hook in sb.webhooks.values():
        if event not in hook["events"]:
            continue
        if event == "employee.updated" and not set(changed) & set(hook["monitorFields"] or []):
            continue
        data: dict[str, Any] = {"companyId": "1", "employeeId": str(employee["id"])}
        if event == "employee.updated":
            data["changedFields"] = list(changed)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        body = orjson.dumps({"type": event, "timestamp": stamp, "data": data})
        record: dict[str, Any] = {
            "webhookId": hook["id"],
            "type": event,
            "employeeId": str(employee["id"]),
            "attempts": 0,
            "status": None,
            "delivered": False,
        }
        sb.deliveries.append(record)
        sb.spawn(_deliver(hook, body, record))


async def _deliver(hook: dict[str, Any], body: bytes, record: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=5.0) as client:
        for attempt in range(1, ATTEMPTS + 1):
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-BambooHR-Timestamp": stamp,
                "X-BambooHR-Signature": sign(hook["privateKey"], body, stamp),
            }
            record["attempts"] = attempt
            try:
                r = await client.post(hook["url"], content=body, headers=headers)
                record["status"] = r.status_code
                if 200 <= r.status_code < 300:
                    record["delivered"] = True
                    hook["lastSent"] = _stamp()
                    return
            except httpx.HTTPError as exc:
                record["status"] = type(exc).__name__
            if attempt < ATTEMPTS:
                await asyncio.sleep(0.5 * attempt)


ROUTES = [
    Route("/api/v1/webhooks", create_webhook, methods=["POST"], name="webhook_create"),
    Route("/api/v1/webhooks", list_webhooks, methods=["GET"], name="webhook_list"),
    Route("/api/v1/webhooks/{id}", get_webhook, methods=["GET"], name="webhook_get"),
    Route("/api/v1/webhooks/{id}", delete_webhook, methods=["DELETE"], name="webhook_delete"),
]
