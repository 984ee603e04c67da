"""Approvals API (``/approvals-api/v201910``): create a request from a base request, read it and
its comments, approve or reject as one of its approvers.

The decision rules live in ``Tenant.decide_approval``: steps complete in order; ``any`` needs one
approval per step and ``all`` every approver's; ``sequential`` asks a step's approvers in their
listed order; one rejection rejects the request. Decisions on an offer's request move the offer
to APPROVED or NOT_APPROVED.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.server import credential_of, tenant_of
from syncd.sandbox.validate import Field, check, read_json

BASE = "/approvals-api/v201910/approvals"
TYPES = ("sequential", "parallel")
MODES = ("any", "all")


def render(approval: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": approval["id"],
        "subject": dict(approval["subject"]),
        "type": approval["type"],
        "decisionMode": approval["decisionMode"],
        "status": approval["status"],
        "steps": [
            {
                "status": step["status"],
                "approvers": [
                    {k: a[k] for k in ("id", "decision", "decidedOn") if k in a}
                    for a in step["approvers"]
                ],
            }
            for step in approval["steps"]
        ],
    }


def _steps(body: dict[str, Any]) -> list[list[str]]:
    """``steps: [{approvers: [{id}]}]`` to approver ids per step, naming the first bad field."""
    steps = body["steps"]
    if not steps:
        raise bad_request("INVALID_REQUEST_BODY", "'steps' must hold at least one step")
    out: list[list[str]] = []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict) or not isinstance(step.get("approvers"), list):
            raise bad_request("INVALID_REQUEST_BODY", f"'{where}.approvers' must be an array")
        if not step["approvers"]:
            raise bad_request(
                "INVALID_REQUEST_BODY", f"'{where}.approvers' must hold at least one approver"
            )
        ids: list[str] = []
        for j, approver in enumerate(step["approvers"]):
            if not isinstance(approver, dict) or not isinstance(approver.get("id"), str):
                raise bad_request(
                    "INVALID_REQUEST_BODY", f"'{where}.approvers[{j}].id' must be a string"
                )
            ids.append(approver["id"])
        out.append(ids)
    return out


async def create_approval(request: Request) -> Response:
    if "approvals_manage" not in credential_of(request).scopes:
        raise ApiError(401, "UNAUTHORIZED_ACCESS", "No permission to create approval requests")
    t = tenant_of(request)
    body = check(
        await read_json(request),
        {
            "baseId": Field(str, required=True),
            "type": Field(str, required=True, enum=TYPES),
            "decisionMode": Field(str, required=True, enum=MODES),
            "steps": Field(list, required=True),
        },
    )
    steps = _steps(body)
    if body["type"] == "sequential" and body["decisionMode"] == "all":
        raise bad_request(
            "INVALID_DECISION_MODE", "decisionMode 'all' cannot be used with type 'sequential'"
        )
    base = t.approvals.get(body["baseId"])
    if base is None:
        raise bad_request(
            "BASE_ID_NOT_FOUND", f"Approval request with id {body['baseId']} not found"
        )
    users = {u["id"] for u in t.users}
    unknown = sorted({a for step in steps for a in step} - users)
    if unknown:
        raise bad_request("APPROVER_ID_NOT_FOUND", f"Unknown approver ids: {', '.join(unknown)}")
    subject = base["subject"]
    if base["status"] == "PENDING":
        t.abandon_approval(base)
    approval = t.create_approval(
        subject["type"],
        subject["id"],
        steps,
        kind=body["type"],
        decision_mode=body["decisionMode"],
    )
    return json_response(render(approval), 201)


async def get_approval(request: Request) -> Response:
    t = tenant_of(request)
    return json_response(render(t.approval(request.path_params["approvalRequestId"])))


async def get_comments(request: Request) -> Response:
    t = tenant_of(request)
    approval = t.approval(request.path_params["approvalRequestId"])
    comments = t.approval_comments.get(approval["id"], [])
    return json_response({"content": [dict(c) for c in comments]})


async def _decision_body(request: Request, *, reject: bool) -> dict[str, Any]:
    fields = {"approverId": Field(str, required=True), "comment": Field(str)}
    body = check(await read_json(request), fields)
    if reject and not (body.get("comment") or "").strip():
        raise bad_request("COMMENT_IS_REQUIRED", "A rejection needs a 'comment'")
    return body


async def approve(request: Request) -> Response:
    t = tenant_of(request)
    approval = t.approval(request.path_params["approvalRequestId"])
    body = await _decision_body(request, reject=False)
    t.decide_approval(approval, body["approverId"], "APPROVED", body.get("comment"))
    return empty(204)


async def reject(request: Request) -> Response:
    t = tenant_of(request)
    approval = t.approval(request.path_params["approvalRequestId"])
    body = await _decision_body(request, reject=True)
    t.decide_approval(approval, body["approverId"], "REJECTED", body["comment"])
    return empty(204)


ROUTES = [
    Route(BASE, create_approval, methods=["POST"]),
    Route(BASE + "/{approvalRequestId}", get_approval, methods=["GET"]),
    Route(BASE + "/{approvalRequestId}/comments", get_comments, methods=["GET"]),
    Route(BASE + "/{approvalRequestId}/approve-decisions", approve, methods=["POST"]),
    Route(BASE + "/{approvalRequestId}/reject-decisions", reject, methods=["POST"]),
]
