"""Messages API: a candidate's messages (ADMINISTRATOR only, cursor paging with ``pageId`` and a
``Link`` header), sharing a new message, deleting one.

A message is linked to the candidates its content tags with ``#[CANDIDATE:id]`` and mentions
users with ``@[USER:id]``, as on Hireloop. Each message carries a sequence number that only
grows, so a page cursor stays valid while messages are added or deleted.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request, not_found
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.paging import (
    decode_token,
    encode_token,
    filters_key,
    invalid_page_id,
    next_link,
    query_int,
)
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import require_admin
from syncd.sandbox.server import credential_of, tenant_of
from syncd.sandbox.state import Tenant
from syncd.sandbox.validate import Field, check, read_json

TAG = re.compile(r"#\[CANDIDATE:([^\]\s]+)\]")
MENTION = re.compile(r"@\[USER:([^\]\s]+)\]")
MAX_RECIPIENTS = 100


def render_message(request: Request, t: Tenant, m: dict[str, Any]) -> dict[str, Any]:
    apps = [t.applications[a] for a in m.get("applicationIds", []) if a in t.applications]
    return {
        "id": m["id"],
        "content": m["content"],
        "createdOn": m["createdOn"],
        "visibility": m["visibility"],
        "authorId": m["authorId"],
        "context": {"applications": [render.application(request, t, a) for a in apps]},
    }


def _candidate_ids(m: dict[str, Any]) -> list[str]:
    ids = m.get("candidateIds")
    if ids is not None:
        return list(ids)
    return [m["candidateId"]] if m.get("candidateId") else []


async def list_messages(request: Request) -> Response:
    require_admin(request, "Fetching messages")
    t = tenant_of(request)
    cid = request.query_params.get("candidateId")
    if not cid:
        raise bad_request("INVALID_PARAMETER", "Query parameter 'candidateId' is required")
    limit = query_int(request, "limit", 10, 1, 100)
    if cid not in t.candidates:
        raise bad_request("CANDIDATE_NOT_FOUND", f"Candidate with id {cid} not found")
    app_id: str | None = None
    jid = request.query_params.get("jobId")
    if jid:
        if jid not in t.jobs:
            raise bad_request("JOB_NOT_FOUND", f"Job with id {jid} not found")
        app_id = t.app_by_pair.get((cid, jid))
        if app_id is None:
            raise bad_request(
                "APPLICATION_NOT_FOUND", f"Candidate {cid} has no application for job {jid}"
            )
    mine = [
        m
        for m in t.messages.values()
        if cid in _candidate_ids(m) and (app_id is None or app_id in m.get("applicationIds", ()))
    ]
    mine.sort(key=lambda m: int(m["seq"]))
    filters = filters_key(request)
    token = request.query_params.get("pageId")
    if token:
        start, total = decode_token(token, filters)
        if start > int(t.config.get("message_seq", 0)) + 1:
            raise invalid_page_id()
    else:
        start, total = 0, len(mine)
    rest = [m for m in mine if int(m["seq"]) >= start]
    page, after = rest[:limit], rest[limit:]
    headers = {}
    if after:
        headers["Link"] = next_link(
            request, "pageId", encode_token(int(after[0]["seq"]), total, filters)
        )
    return json_response([render_message(request, t, m) for m in page], headers=headers)


async def share_message(request: Request) -> Response:
    t = tenant_of(request)
    cred = credential_of(request)
    if "messages_write" not in cred.scopes:
        raise ApiError(403, "PERMISSION_DENIED", "Missing required scope: messages_write")
    body = check(
        await read_json(request),
        {
            "content": Field(str, required=True),
            "correlationId": Field(str),
            "shareWith": Field(dict),
        },
    )
    content = body["content"]
    if not 1 <= len(content) <= 10000:
        raise bad_request("INVALID_REQUEST_BODY", "'content' must be 1 to 10000 characters long")
    share = check(
        body.get("shareWith") or {},
        {
            "users": Field(list),
            "hiringTeamOf": Field(list),
            "everyone": Field(bool),
            "openNote": Field(bool),
        },
    )
    users_to = share.get("users") or []
    teams_of = share.get("hiringTeamOf") or []
    for name, values in (("users", users_to), ("hiringTeamOf", teams_of)):
        if not all(isinstance(v, str) for v in values):
            raise bad_request(
                "INVALID_REQUEST_BODY", f"'shareWith.{name}' must be an array of strings"
            )
    everyone, open_note = bool(share.get("everyone")), bool(share.get("openNote"))
    if everyone and open_note:
        raise bad_request(
            "INVALID_VISIBILITY_OPTIONS", "'openNote' and 'everyone' cannot both be true"
        )
    known_users = {u["id"] for u in t.users}
    missing_jobs = [j for j in teams_of if j not in t.jobs]
    if missing_jobs:
        raise bad_request("JOB_NOT_FOUND", f"Jobs not found: {', '.join(missing_jobs)}")
    tagged = list(dict.fromkeys(TAG.findall(content)))
    unknown = [c for c in tagged if c not in t.candidates]
    if unknown:
        raise bad_request(
            "NO_ACCESS_TO_CANDIDATE", f"No access to tagged candidates: {', '.join(unknown)}"
        )
    mentioned = list(dict.fromkeys(MENTION.findall(content)))
    unknown = [u for u in mentioned if u not in known_users]
    if unknown:
        raise bad_request(
            "MENTIONED_USERS_NOT_FOUND", f"Mentioned users not found: {', '.join(unknown)}"
        )
    unknown = [u for u in users_to if u not in known_users]
    if unknown:
        raise bad_request(
            "SHARED_WITH_USERS_NOT_FOUND", f"Users to share with not found: {', '.join(unknown)}"
        )
    recipients = set(users_to) | set(mentioned)
    for jid in teams_of:
        recipients |= {m["id"] for m in t.hiring_team.get(jid, [])}
    if len(recipients) > MAX_RECIPIENTS:
        raise bad_request(
            "TOO_MANY_RECIPIENTS",
            f"{len(recipients)} recipients; a message reaches at most {MAX_RECIPIENTS}",
        )
    seq = int(t.config.get("message_seq", 0)) + 1
    t.config["message_seq"] = seq
    message = {
        "id": t.new_id(),
        "seq": seq,
        "candidateId": tagged[0] if tagged else None,
        "candidateIds": tagged,
        "applicationIds": [a for c in tagged for a in t.apps_of_candidate.get(c, [])],
        "content": content,
        "correlationId": body.get("correlationId"),
        "createdOn": t.now(),
        "visibility": "PUBLIC" if everyone else "INTERNAL",
        "authorId": cred.user_id,
        "shareWith": {
            "users": users_to,
            "hiringTeamOf": teams_of,
            "everyone": everyone,
            "openNote": open_note,
        },
    }
    t.messages[message["id"]] = message
    # Nobody to share with yet: the message waits, visible to its author, until it is shared.
    share_required = not (users_to or teams_of or everyone or open_note)
    return json_response({"id": message["id"], "shareRequired": share_required}, 201)


async def delete_message(request: Request) -> Response:
    t = tenant_of(request)
    cred = credential_of(request)
    message = t.messages.get(request.path_params["id"])
    if message is None:
        raise not_found(
            "MESSAGE_NOT_FOUND", f"Message with id {request.path_params['id']} not found"
        )
    if "messages_write" not in cred.scopes or (
        cred.role != "ADMINISTRATOR" and message["authorId"] != cred.user_id
    ):
        raise ApiError(403, "PERMISSION_DENIED", "No permission to delete this message")
    del t.messages[message["id"]]
    return empty(204)


ROUTES = [
    Route("/messages", list_messages, methods=["GET"]),
    Route("/messages/shares", share_message, methods=["POST"]),
    Route("/messages/shares/{id}", delete_message, methods=["DELETE"]),
]
