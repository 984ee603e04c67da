"""Assessment API: the orders of an application (``/assessment-api/v202107``) and the partner's
side (``/assessment-api/v202010``): partner configuration, company integration set-up, result
updates (RFC 7396 merge patch) and result attachments.

The tenant starts with a partner configuration and an integration for its own company; one more
company (``<companyId>Partner``) has consented but is not integrated yet.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request, not_found
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.routes.common import base
from syncd.sandbox.server import credential_of, tenant_of
from syncd.sandbox.state import Tenant
from syncd.sandbox.timefmt import normalize
from syncd.sandbox.validate import Field, check, read_json

ORDERS = "/assessment-api/v202107/assessment-orders"
PARTNER = "/assessment-api/v202010"
RESULT_STATUSES = ("IN_PROGRESS", "PENDING", "COMPLETED", "REJECTED", "EXPIRED")
ATTACHMENT_TYPES = ("VIDEO_URL", "PDF_URL", "OTHER_URL")
ASSESSMENT_TYPES = (
    "VIDEO_INTERVIEW",
    "BEHAVIORAL_ASSESSMENT",
    "BACKGROUND_CHECK",
    "REFERENCE_CHECK",
    "SKILL_TEST",
    "INLINE_ASSESSMENT",
)
CONFIG_URLS = (
    "consentUrl",
    "assessmentPackageListUrl",
    "singleAssessmentPackageUrl",
    "packageOrderUrl",
    "inlineAssessmentPackageOrderUrl",
    "oauthTokenUrl",
    "integrationDisableUrl",
)
REQUIRED_CONFIG = (
    "assessmentPackageListUrl",
    "singleAssessmentPackageUrl",
    "consentUrl",
    "consentDisplayMode",
    "oauthTokenUrl",
    "supportedAssessmentTypes",
)
RESULT_KEYS = (
    "summary",
    "description",
    "assessmentPackageDate",
    "submissionDate",
    "name",
    "status",
    "score",
    "scoreLabel",
    "attachments",
    "assessmentResults",
)


def _scope(request: Request, scope: str) -> None:
    if scope not in credential_of(request).scopes:
        raise ApiError(403, "MISSING_REQUIRED_SCOPES", f"Missing required scope: {scope}")


def _order(t: Tenant, order_id: str) -> dict[str, Any]:
    order = t.assessment_orders.get(order_id)
    if order is None:
        raise not_found("ORDER_NOT_FOUND", f"Order with id {order_id} does not exist")
    return order


# ---- rendering -----------------------------------------------------------------------------
def _score_text(score: dict[str, Any] | None) -> str | None:
    return f"{score['raw']}/{score['max']}" if score else None


def _upload_url(request: Request, order_id: str, upload_id: str) -> str:
    return f"{base(request)}{PARTNER}/orders/{order_id}/results/attachments/{upload_id}"


def render_order(request: Request, order: dict[str, Any]) -> dict[str, Any]:
    r = order["results"]
    uploads = [
        {
            "id": u["id"],
            "name": u["fileName"],
            "fileName": u["fileName"],
            "contentType": u["contentType"],
            "actions": {
                "download": {
                    "url": _upload_url(request, order["orderId"], u["id"]),
                    "method": "GET",
                }
            },
        }
        for u in order.get("uploads", [])
    ]
    out = {
        "applicationId": order["applicationId"],
        "orderId": order["orderId"],
        "assessmentPackageDate": r.get("assessmentPackageDate"),
        "submissionDate": r.get("submissionDate"),
        "assessmentPackageName": r.get("name") or order["assessmentPackageName"],
        "description": r.get("description") or order.get("description"),
        "summary": r.get("summary"),
        "status": r.get("status"),
        "score": _score_text(r.get("score")),
        "scoreLabel": r.get("scoreLabel"),
        "attachments": [*copy.deepcopy(r.get("attachments", [])), *uploads],
        "assessments": copy.deepcopy(r.get("assessmentResults", [])),
    }
    return {k: v for k, v in out.items() if v is not None}


def render_results(results: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(results[k]) for k in RESULT_KEYS if k in results}


# ---- result validation ---------------------------------------------------------------------
def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _bad(where: str, message: str) -> ApiError:
    return bad_request("INVALID_RESULT_UPDATE", f"'{where}' {message}")


def _check_score(score: Any, where: str) -> None:
    if not isinstance(score, dict):
        raise _bad(where, "must be an object {raw, min, max}")
    for key in ("raw", "min", "max"):
        value = score.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(f"{where}.{key}", "is required and must be an integer")
    if not score["min"] <= score["raw"] <= score["max"]:
        raise _bad(where, "must satisfy min <= raw <= max")


def _check_common(obj: dict[str, Any], where: str, dates: tuple[str, ...]) -> None:
    prefix = f"{where}." if where else ""
    for key in ("summary", "description", "name", "scoreLabel", "assessmentName", "assessmentId"):
        if key in obj and not isinstance(obj[key], str):
            raise _bad(prefix + key, "must be a string")
    for key in dates:
        if key in obj:
            try:
                obj[key] = normalize(obj[key]) if isinstance(obj[key], str) else None
            except ValueError:
                obj[key] = None
            if obj[key] is None:
                raise _bad(prefix + key, "must be an ISO 8601 date-time")
    if "status" in obj and obj["status"] not in RESULT_STATUSES:
        raise _bad(prefix + "status", f"must be one of {', '.join(RESULT_STATUSES)}")
    if "score" in obj:
        _check_score(obj["score"], prefix + "score")


def _check_attachments(items: Any, where: str, request: Request, order_id: str, t: Tenant) -> None:
    if not isinstance(items, list):
        raise _bad(where, "must be an array")
    for i, att in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(att, dict):
            raise _bad(at, "must be an object")
        for key in ("fileName", "mimeType", "name", "contentType", "url", "fileContent"):
            if key in att and not isinstance(att[key], str):
                raise _bad(f"{at}.{key}", "must be a string")
        if len(att.get("fileName", "")) > 100:
            raise _bad(f"{at}.fileName", "must be at most 100 characters")
        if "type" in att and att["type"] not in ATTACHMENT_TYPES:
            raise _bad(f"{at}.type", f"must be one of {', '.join(ATTACHMENT_TYPES)}")
        if "url" in att and not att["url"].startswith(("http://", "https://")):
            raise _bad(f"{at}.url", "must be an absolute http(s) URL")
        # The file content is accepted, not kept: the stored attachment links to its URL.
        att.pop("fileContent", None)
        att.setdefault("id", t.new_id())
        if not isinstance(att.get("actions"), dict):
            url = att.get("url") or _upload_url(request, order_id, str(att["id"]))
            att["actions"] = {"download": {"url": url, "method": "GET"}}


def _check_results(results: dict[str, Any], request: Request, order_id: str, t: Tenant) -> None:
    unknown = sorted(set(results) - set(RESULT_KEYS))
    if unknown:
        raise _bad(unknown[0], "is not a result field")
    _check_common(results, "", ("assessmentPackageDate", "submissionDate"))
    if "attachments" in results:
        _check_attachments(results["attachments"], "attachments", request, order_id, t)
    if "assessmentResults" in results:
        items = results["assessmentResults"]
        if not isinstance(items, list):
            raise _bad("assessmentResults", "must be an array")
        for i, item in enumerate(items):
            at = f"assessmentResults[{i}]"
            if not isinstance(item, dict):
                raise _bad(at, "must be an object")
            if not isinstance(item.get("assessmentId"), str):
                raise _bad(f"{at}.assessmentId", "is required and must be a string")
            _check_common(item, at, ("assessmentDate", "submissionDate"))
            if "attachments" in item:
                _check_attachments(item["attachments"], f"{at}.attachments", request, order_id, t)


# ---- handlers ------------------------------------------------------------------------------
async def list_orders(request: Request) -> Response:
    t = tenant_of(request)
    app_id = request.query_params.get("applicationId")
    if not app_id:
        raise bad_request("INVALID_PARAMETER", "Query parameter 'applicationId' is required")
    if t.company_id not in t.assessment_integrations:
        raise not_found(
            "MISSING_COMPANY_INTEGRATION", "No integration with an assessment partner was found"
        )
    if app_id not in t.applications:
        raise not_found("APPLICATION_NOT_FOUND", f"Application with id {app_id} not found")
    orders = [o for o in t.assessment_orders.values() if o["applicationId"] == app_id]
    orders.sort(key=lambda o: (o["createdOn"], o["orderId"]))
    return json_response([render_order(request, o) for o in orders])


async def patch_results(request: Request) -> Response:
    _scope(request, "assessments_manage")
    t = tenant_of(request)
    order = _order(t, request.path_params["orderId"])
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", "application/merge-patch+json"):
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the update as application/json or application/merge-patch+json",
        )
    patch = await read_json(request)
    if not isinstance(patch, dict):
        raise bad_request("INVALID_RESULT_UPDATE", "The update must be a JSON object")
    merged = _merge_patch(order["results"], patch)
    _check_results(merged, request, order["orderId"], t)
    order["results"] = merged
    order["updatedOn"] = t.now()
    return json_response(render_results(merged))


async def add_attachment(request: Request) -> Response:
    _scope(request, "assessments_manage")
    t = tenant_of(request)
    order = _order(t, request.path_params["orderId"])
    media = request.headers.get("content-type", "").lower()
    if not media.startswith("multipart/form-data"):
        raise bad_request("INVALID_REQUEST_BODY", "Send the attachment as multipart/form-data")
    try:
        form = await request.form()
    except HTTPException as exc:  # starlette's answer to a malformed multipart body
        raise bad_request(
            "INVALID_REQUEST_BODY", f"Malformed multipart body: {exc.detail}"
        ) from None
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if not files:
        raise bad_request("INVALID_REQUEST_BODY", "The form holds no file part")
    upload = files[0]
    content = await upload.read()
    if not content:
        raise bad_request("INVALID_REQUEST_BODY", "The attached file is empty")
    item: dict[str, Any] = {
        "id": t.new_id(),
        "fileName": (upload.filename or "attachment")[:100],
        "contentType": upload.content_type or "application/octet-stream",
        "size": len(content),
        "content": content,
    }
    order.setdefault("uploads", []).append(item)
    order["updatedOn"] = t.now()
    return json_response({"url": _upload_url(request, order["orderId"], item["id"])}, 201)


async def get_attachment(request: Request) -> Response:
    t = tenant_of(request)
    order = _order(t, request.path_params["orderId"])
    for item in order.get("uploads", []):
        if item["id"] == request.path_params["attachmentId"]:
            return Response(item["content"], media_type=item["contentType"])
    raise not_found("ATTACHMENT_NOT_FOUND", "Attachment not found")


def _check_config(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("INVALID_CONFIGURATION", "The configuration must be a JSON object")
    missing = [k for k in REQUIRED_CONFIG if body.get(k) is None]
    if missing:
        raise bad_request("INVALID_CONFIGURATION", f"Required: {', '.join(missing)}")
    for key in CONFIG_URLS:
        value = body.get(key)
        if value is not None and (
            not isinstance(value, str) or not value.startswith(("http://", "https://"))
        ):
            raise bad_request("INVALID_CONFIGURATION", f"'{key}' must be an absolute http(s) URL")
    if body["consentDisplayMode"] not in ("REDIRECT", "POPUP"):
        raise bad_request(
            "INVALID_CONFIGURATION", "'consentDisplayMode' must be one of REDIRECT, POPUP"
        )
    types = body["supportedAssessmentTypes"]
    if (
        not isinstance(types, list)
        or not 1 <= len(types) <= 6
        or any(x not in ASSESSMENT_TYPES for x in types)
    ):
        raise bad_request(
            "INVALID_CONFIGURATION",
            "'supportedAssessmentTypes' must hold 1 to 6 of " + ", ".join(ASSESSMENT_TYPES),
        )
    fields = body.get("fields") or []
    if not isinstance(fields, list) or len(fields) > 5:
        raise bad_request("INVALID_CONFIGURATION", "'fields' must be an array of at most 5")
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or not all(
            isinstance(f.get(k), str) for k in ("description", "id", "name")
        ):
            raise bad_request(
                "INVALID_CONFIGURATION", f"'fields[{i}]' needs string description, id and name"
            )
    config = {k: body[k] for k in (*CONFIG_URLS, "consentDisplayMode") if body.get(k) is not None}
    config["fields"] = [{k: f[k] for k in ("description", "id", "name")} for f in fields]
    config["supportedAssessmentTypes"] = list(dict.fromkeys(types))
    return config


async def put_partner_config(request: Request) -> Response:
    _scope(request, "assessments_manage")
    t = tenant_of(request)
    t.assessment_partner_config = _check_config(await read_json(request))
    return json_response(copy.deepcopy(t.assessment_partner_config))


async def get_partner_config(request: Request) -> Response:
    t = tenant_of(request)
    if t.assessment_partner_config is None:
        raise not_found("PARTNER_CONFIGURATION_NOT_FOUND", "Partner configuration does not exist")
    return json_response(copy.deepcopy(t.assessment_partner_config))


async def setup_integration(request: Request) -> Response:
    _scope(request, "client_credentials_write")
    t = tenant_of(request)
    body = check(
        await read_json(request),
        {"clientId": Field(str, required=True), "clientSecret": Field(str, required=True)},
    )
    company = request.path_params["companyId"]
    if t.assessment_partner_config is None:
        raise not_found("PARTNER_CONFIGURATION_NOT_FOUND", "Partner configuration does not exist")
    if company not in t.config.get("assessment_consents", []):
        raise ApiError(
            403, "COMPANY_CONSENT_MISSING", f"Company {company} did not consent to the integration"
        )
    if company in t.assessment_integrations:
        raise ApiError(
            409, "INTEGRATION_ALREADY_EXISTS", f"Partner already integrated for company {company}"
        )
    client_id = f"{company.lower()}-{secrets.token_hex(4)}"
    client_secret = secrets.token_urlsafe(24)
    t.assessment_integrations[company] = {
        "companyId": company,
        "partnerClientId": body["clientId"],
        # Only digests are kept: the sandbox never shows a secret back after this response.
        "partnerSecretSha256": hashlib.sha256(body["clientSecret"].encode()).hexdigest(),
        "clientId": client_id,
        "clientSecretSha256": hashlib.sha256(client_secret.encode()).hexdigest(),
        "createdOn": t.now(),
    }
    return json_response({"clientId": client_id, "clientSecret": client_secret})


ROUTES = [
    Route(ORDERS, list_orders, methods=["GET"]),
    Route(PARTNER + "/orders/{orderId}/results", patch_results, methods=["PATCH"]),
    Route(PARTNER + "/orders/{orderId}/results/attachment", add_attachment, methods=["POST"]),
    Route(
        PARTNER + "/orders/{orderId}/results/attachments/{attachmentId}",
        get_attachment,
        methods=["GET"],
    ),
    Route(PARTNER + "/partner/configuration", put_partner_config, methods=["PUT"]),
    Route(PARTNER + "/partner/configuration", get_partner_config, methods=["GET"]),
    Route(PARTNER + "/integration/company/{companyId}", setup_integration, methods=["POST"]),
]
