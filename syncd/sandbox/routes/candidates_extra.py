"""Candidates API writes and the per-application reads beyond status: attachments, consent,
résumé upload, deletion, tags, source, properties, screening answers, offer approvals.

Every change goes through a ``Tenant`` method, so ``updatedOn``, the audit trail and webhook
events follow. Multipart bodies are read with python-multipart through Starlette.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request, not_found
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import action, listing, require_scope
from syncd.sandbox.server import tenant_of
from syncd.sandbox.state import Tenant
from syncd.sandbox.validate import Field, check, read_json

ATTACHMENT_TYPES = ("GENERIC_FILE", "RESUME", "COVER_LETTER")
PROPERTY_CONTEXTS = ("PROFILE", "OFFER_FORM", "HIRE_FORM", "OFFER_APPROVAL_FORM")
# Files the sandbox refuses as attachments, like executables on the real service.
BLOCKED_EXTENSIONS = (".exe", ".bat", ".cmd", ".com", ".msi", ".sh", ".js", ".dll")
ATTACHMENTS_PER_APPLICATION = 20
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


# ---- shared helpers (jobs_extra uses them too) ---------------------------------------------
@dataclass(frozen=True)
class SourceCodes:
    """Error codes differ per endpoint for the same mistakes."""

    type_status: int
    bad_type: str
    bad_source: str


UPDATE_SOURCE = SourceCodes(400, "INVALID_SOURCE_TYPE", "INVALID_SOURCE")
CREATE_SOURCE = SourceCodes(404, "SOURCE_TYPE_NOT_FOUND", "SOURCE_NOT_FOUND")


def resolve_source(t: Tenant, details: dict[str, Any], codes: SourceCodes) -> dict[str, Any]:
    """Check ``{sourceTypeId, sourceSubTypeId?, sourceId}`` against the tenant's configured
    sources and return the stored form."""
    type_id = details.get("sourceTypeId")
    source_id = details.get("sourceId")
    sub_id = details.get("sourceSubTypeId")
    stype = next((s for s in t.config.get("source_types", []) if s["id"] == type_id), None)
    if stype is None:
        raise ApiError(codes.type_status, codes.bad_type, f"Source type '{type_id}' does not exist")
    subtypes = [s.get("id") for s in stype.get("sourceSubTypes") or []]
    # With a single sub-type there is nothing to choose, so it may be left out.
    if len(subtypes) > 1 and not sub_id:
        raise bad_request(
            "SUBTYPE_REQUIRED",
            f"Source type '{type_id}' has sub-types; 'sourceSubTypeId' is required "
            f"(one of {', '.join(str(s) for s in subtypes)})",
        )
    if sub_id and sub_id not in subtypes:
        raise bad_request(codes.bad_source, f"Source sub-type '{sub_id}' does not exist")
    values = [
        v
        for v in t.config.get("source_values", [])
        if v["sourceTypeId"] == type_id and (not sub_id or v.get("sourceSubTypeId") == sub_id)
    ]
    if not any(v["id"] == source_id for v in values):
        raise bad_request(
            codes.bad_source, f"Source '{source_id}' does not exist in source type '{type_id}'"
        )
    out = {"sourceTypeId": type_id, "sourceId": source_id}
    if sub_id:
        out["sourceSubTypeId"] = sub_id
    return out


def nonempty_strings(body: dict[str, Any], *names: str) -> None:
    """``minLength: 1`` on required strings: an empty one counts as missing."""
    blank = [n for n in names if isinstance(body.get(n), str) and not body[n].strip()]
    if blank:
        msgs = [f"'{n}' must not be empty" for n in blank]
        raise ApiError(
            400,
            "INVALID_REQUEST_BODY",
            "; ".join(msgs),
            errors=[{"code": "INVALID_REQUEST_BODY", "message": m} for m in msgs],
        )


async def read_form(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise bad_request(
            "INVALID_REQUEST_BODY",
            f"Content-Type must be multipart/form-data, got '{ctype or 'none'}'",
        )
    try:
        return await request.form(max_files=5, max_fields=20)
    except HTTPException as exc:
        raise bad_request(
            "INVALID_REQUEST_BODY", f"Malformed multipart body: {exc.detail}"
        ) from None


async def read_upload(form: Any, name: str = "file") -> tuple[UploadFile, bytes]:
    upload = form.get(name)
    if not isinstance(upload, UploadFile):
        raise bad_request("INVALID_REQUEST_BODY", f"'{name}' is required: a file part")
    content = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise bad_request("INVALID_FILE", f"'{name}' is larger than {MAX_UPLOAD_BYTES} bytes")
    return upload, content


# ---- résumé parsing ------------------------------------------------------------------------
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?\d[\d ()./-]{6,}\d")
NAME_LINE = re.compile(r"^(?:name\s*[:\-]\s*)?([A-ZÀ-Þ][\w'À-ÿ-]+(?:\s+[A-ZÀ-Þ][\w'À-ÿ-]+){1,3})$")
PDF_TEXT = re.compile(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj")
HEADINGS = {"curriculum", "vitae", "resume", "résumé", "cv", "profile", "contact", "summary"}
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def resume_text(content: bytes) -> str | None:
    """The text of a plain-text résumé, or the literal strings of a simple PDF. None when the
    file holds no readable text (an image, random bytes)."""
    if not content or content.startswith(IMAGE_MAGIC):
        return None
    if content.startswith(b"%PDF"):
        parts = [
            m.group(1).replace(rb"\(", b"(").replace(rb"\)", b")")
            for m in PDF_TEXT.finditer(content)
        ]
        text = "\n".join(p.decode("latin-1") for p in parts)
        return text or None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.9 * len(text) else None


def parse_resume(text: str) -> dict[str, Any]:
    """Name from the first line that looks like one, plus the first e-mail address and phone."""
    out: dict[str, Any] = {}
    if m := EMAIL.search(text):
        out["email"] = m.group(0)
    if m := PHONE.search(text.replace(out.get("email", ""), "")):
        out["phoneNumber"] = re.sub(r"[^\d+]", "", m.group(0))
    for line in text.splitlines():
        n = NAME_LINE.match(line.strip())
        if n and not HEADINGS.intersection(w.lower() for w in n.group(1).split()):
            words = n.group(1).split()
            out["firstName"], out["lastName"] = words[0], " ".join(words[1:])
            break
    return out


# ---- handlers ------------------------------------------------------------------------------
async def delete_attachment(request: Request) -> Response:
    require_scope(request, "candidates_manage")
    tenant_of(request).delete_attachment(request.path_params["attachmentId"])
    return empty(204)


async def post_consent_requests(request: Request) -> Response:
    t = tenant_of(request)
    body = check(await read_json(request), {"content": Field(list, required=True)})
    items = body["content"]
    if not 1 <= len(items) <= 1000:
        raise bad_request(
            "INVALID_REQUEST_BODY", f"'content' must hold 1 to 1000 items, got {len(items)}"
        )
    bad = [
        i
        for i, item in enumerate(items)
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]
    ]
    if bad:
        msgs = [f"'content[{i}].id' is required: a candidate id string" for i in bad[:20]]
        raise ApiError(
            400,
            "INVALID_REQUEST_BODY",
            "; ".join(msgs),
            errors=[{"code": "INVALID_REQUEST_BODY", "message": m} for m in msgs],
        )
    results: list[dict[str, Any]] = []
    for item in items:
        cand = t.candidates.get(item["id"])
        if cand is None:
            # The documented per-item refusal; consent cannot be asked of an unknown candidate.
            results.append({"status": 403, "body": False})
            continue
        t.request_consent(cand)
        results.append(
            {
                "status": 202,
                "body": {"location": action(request, f"/candidates/{cand['id']}/consent")["url"]},
            }
        )
    return json_response({"results": results}, 201)


async def post_cv(request: Request) -> Response:
    require_scope(request, "candidates_create")
    t = tenant_of(request)
    form = await read_form(request)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    internal_raw = fields.get("internal", "false").lower()
    if internal_raw not in ("true", "false"):
        raise bad_request("INVALID_REQUEST_BODY", "'internal' must be true or false")
    if any(k in fields for k in ("sourceTypeId", "sourceId", "sourceSubTypeId")):
        if not fields.get("sourceTypeId") or not fields.get("sourceId"):
            raise bad_request(
                "INVALID_REQUEST_BODY", "'sourceTypeId' and 'sourceId' must be given together"
            )
        resolve_source(t, fields, CREATE_SOURCE)
    upload, content = await read_upload(form)
    text = resume_text(content)
    if text is None:
        raise bad_request(
            "UNPARSABLE_RESUME", f"Resume '{upload.filename}' cannot be parsed: no readable text"
        )
    parsed = parse_resume(text)
    if "firstName" not in parsed:
        raise bad_request(
            "INCOMPLETE_RESUME",
            f"Resume '{upload.filename}' has no candidate name (first and last name on one line)",
        )
    parsed["internal"] = internal_raw == "true"
    cand, _ = t.create_candidate(parsed)
    return json_response(render.candidate_details(request, t, cand), 201)


async def delete_candidate(request: Request) -> Response:
    require_scope(request, "candidates_manage")
    tenant_of(request).delete_candidate(request.path_params["id"])
    return empty(204)


def _consent_date(t: Tenant, cand: dict[str, Any]) -> str:
    return str(cand.get("consent", {}).get("date") or cand["createdOn"])


async def get_consent(request: Request) -> Response:
    t = tenant_of(request)
    cand = t.candidate(request.path_params["id"])
    status = cand.get("consent", {}).get("status", "REQUIRED")
    body: dict[str, Any] = {"status": status}
    if status == "ACQUIRED":
        body["date"] = _consent_date(t, cand)
    return json_response(body)


async def get_consents(request: Request) -> Response:
    t = tenant_of(request)
    cand = t.candidate(request.path_params["id"])
    status = cand.get("consent", {}).get("status", "REQUIRED")
    decision: dict[str, Any] = {
        "status": "acquired" if status == "ACQUIRED" else "required",
        "scope": "Single",
    }
    if status == "ACQUIRED":
        decision["decidedOn"] = _consent_date(t, cand)
    body: dict[str, Any] = {"decisions": [decision]}
    if status == "PENDING":
        body["recentPendingRequestCreatedOn"] = t.consent_requests.get(
            cand["id"], cand["updatedOn"]
        )
    return json_response(body)


async def post_attachment(request: Request) -> Response:
    require_scope(request, "candidates_manage")
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    form = await read_form(request)
    kind = form.get("attachmentType")
    if not isinstance(kind, str) or kind not in ATTACHMENT_TYPES:
        raise bad_request(
            "INVALID_REQUEST_BODY",
            f"'attachmentType' is required: one of {', '.join(ATTACHMENT_TYPES)}; got '{kind}'",
        )
    upload, content = await read_upload(form)
    name = upload.filename or "attachment"
    if not content or name.lower().endswith(BLOCKED_EXTENSIONS):
        raise bad_request("INVALID_FILE", f"File '{name}' is empty or of a type not allowed")
    mine = [a for a in t.attachments.values() if a.get("applicationId") == app["id"]]
    if any(a["name"] == name and a["type"] == kind for a in mine):
        raise bad_request("FILE_ALREADY_EXIST", f"File '{name}' is already attached as {kind}")
    if len(mine) >= ATTACHMENTS_PER_APPLICATION:
        raise ApiError(
            422,
            "ATTACHMENT_LIMIT_EXCEEDED",
            f"At most {ATTACHMENTS_PER_APPLICATION} files per candidate and job",
        )
    att = t.add_attachment(
        app,
        name=name,
        attachment_type=kind,
        content_type=upload.content_type or "application/octet-stream",
        content=content,
    )
    cid = app["candidateId"]
    return json_response(
        {
            "id": att["id"],
            "name": att["name"],
            "type": att["type"],
            "contentType": att["contentType"],
            "actions": {
                "download": action(request, f"/candidates/{cid}/attachments/{att['id']}"),
                "remove": action(request, f"/candidates/attachments/{att['id']}", "DELETE"),
            },
        },
        201,
    )


async def get_offer_approval(request: Request) -> Response:
    t = tenant_of(request)
    p = request.path_params
    app = t.application(p["id"], p["jobId"])
    offer = t.offers.get(p["offerId"])
    if offer is None or offer["applicationId"] != app["id"]:
        raise not_found("OFFERS_NOT_FOUND", f"Offer with id {p['offerId']} not found")
    approval = t.approvals.get(t.offer_approvals.get(offer["id"], ""))
    if approval is None:
        raise not_found("APPROVALS_NOT_FOUND", "There is no approval request for this offer")
    return json_response(approval_request(approval))


def approval_request(a: dict[str, Any]) -> dict[str, Any]:
    """The approvals-api shape; sandbox bookkeeping keys stay out."""
    keys = ("id", "subject", "type", "decisionMode", "status", "steps")
    return {**{k: a[k] for k in keys if k in a}, "approvalRequestId": a["id"]}


def _property_value(rng: random.Random, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if kind == "CURRENCY":
        return {"code": "EUR", "value": 40000 + 1000 * rng.randrange(60)}
    if kind == "BOOLEAN":
        return rng.random() < 0.5
    if kind in ("NUMBER", "PERCENT"):
        return rng.randrange(100)
    if kind == "SINGLE_SELECT":
        values = prop.get("values") or [{"label": x} for x in ("2 weeks", "1 month", "3 months")]
        return str(rng.choice(values).get("label"))
    return "n/a"


async def get_properties(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    context = request.query_params.get("context", "PROFILE")
    if context not in PROPERTY_CONTEXTS:
        raise bad_request(
            "INVALID_PARAMETER",
            f"Query parameter 'context' must be one of {', '.join(PROPERTY_CONTEXTS)}; "
            f"got '{context}'",
        )
    props = t.config.get("candidate_properties", [])
    if context != "PROFILE":
        # Offer and hire forms show the money fields only.
        props = [p for p in props if p.get("type") == "CURRENCY"]
    # Values are derived from the application id: stable across calls, no stored state.
    rng = random.Random(app["id"])
    content = [
        {
            "id": p["id"],
            "label": p["label"],
            "type": p["type"],
            "value": _property_value(rng, p),
            "actions": {
                "configuration": action(request, f"/configuration/candidate-properties/{p['id']}")
            },
        }
        for p in props
    ]
    return json_response({"content": content})


SCREENING = (
    ("q-work-permit", "radio", "Do you have the right to work in this country?", ("Yes", "No")),
    ("q-notice", "select", "What is your notice period?", ("None", "1 month", "3 months")),
    ("q-relocate", "checkbox", "Are you willing to relocate?", ("Yes", "No")),
)


async def get_screening_answers(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    if app["status"] == "LEAD":
        # Sourced leads never filled in the application form.
        return json_response(listing([]))
    rng = random.Random(app["id"])
    content = []
    for qid, kind, label, options in SCREENING[: 2 + rng.randrange(2)]:
        answer = rng.choice(options)
        content.append(
            {
                "id": qid,
                "type": kind,
                "category": "PREDEFINED",
                "name": qid,
                "label": label,
                "records": [
                    {
                        "fields": [
                            {"id": qid, "label": label, "values": [{"id": answer, "label": answer}]}
                        ]
                    }
                ],
            }
        )
    return json_response(listing(content))


async def put_source(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    body = check(
        await read_json(request),
        {
            "sourceTypeId": Field(str, required=True),
            "sourceSubTypeId": Field(str),
            "sourceId": Field(str, required=True),
        },
    )
    nonempty_strings(body, "sourceTypeId", "sourceId")
    t.set_source(app, resolve_source(t, body, UPDATE_SOURCE))
    return empty(204)


async def put_tags(request: Request) -> Response:
    require_scope(request, "candidates_manage")
    t = tenant_of(request)
    cand = t.candidate(request.path_params["id"])
    body = check(await read_json(request), {"tags": Field(list, required=True)})
    tags = body["tags"]
    bad = [i for i, tag in enumerate(tags) if not isinstance(tag, str) or not tag.strip()]
    if bad:
        raise bad_request("INVALID_REQUEST_BODY", f"'tags[{bad[0]}]' must be a non-empty string")
    if len(tags) > 100:
        raise bad_request(
            "INVALID_REQUEST_BODY", f"'tags' holds at most 100 items, got {len(tags)}"
        )
    unique = list(dict.fromkeys(tags))
    t.update_candidate(cand, {"tags": unique})
    return json_response({"tags": unique}, 201)


P = "/candidates/{id}/jobs/{jobId}"
ROUTES = [
    Route("/candidates/attachments/{attachmentId}", delete_attachment, methods=["DELETE"]),
    Route("/candidates/consent-requests", post_consent_requests, methods=["POST"]),
    Route("/candidates/cv", post_cv, methods=["POST"]),
    Route("/candidates/{id}", delete_candidate, methods=["DELETE"]),
    Route("/candidates/{id}/consent", get_consent, methods=["GET"]),
    Route("/candidates/{id}/consents", get_consents, methods=["GET"]),
    Route("/candidates/{id}/tags", put_tags, methods=["PUT"]),
    Route(f"{P}/attachments", post_attachment, methods=["POST"]),
    Route(f"{P}/offers/{{offerId}}/approvals/latest", get_offer_approval, methods=["GET"]),
    Route(f"{P}/properties", get_properties, methods=["GET"]),
    Route(f"{P}/screening-answers", get_screening_answers, methods=["GET"]),
    Route(f"{P}/source", put_source, methods=["PUT"]),
]
