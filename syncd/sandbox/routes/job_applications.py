"""Job Applications API (``/job-applications-api/v202112``): one application by its UUID."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import bad_request, not_found
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.routes.common import drop_none
from syncd.sandbox.server import tenant_of

BASE = "/job-applications-api/v202112"
# Source ids in the Customer API are slugs; this API speaks UUIDs, derived stably from the slug.
SOURCE_NAMESPACE = uuid.UUID("6f1c1f0e-5d1b-4f43-9a4f-2f8a0c9d7e11")


async def get_job_application(request: Request) -> Response:
    raw = request.path_params["jobApplicationId"]
    try:
        app_id = str(uuid.UUID(raw))
    except ValueError:
        raise bad_request(
            "INVALID_JOB_APPLICATION_ID", f"jobApplicationId must be a UUID, got '{raw}'"
        ) from None
    app = tenant_of(request).applications.get(app_id)
    if app is None:
        raise not_found("JOB_APPLICATION_NOT_FOUND", f"Job application {app_id} not found")
    source = app.get("source") or {}
    return json_response(
        drop_none(
            {
                "status": app["status"],
                "subStatus": app.get("subStatus"),
                "sourceIdentifier": str(uuid.uuid5(SOURCE_NAMESPACE, str(source.get("sourceId"))))
                if source.get("sourceId")
                else None,
                "createDate": app["createdOn"],
                "profileId": app["candidateId"],
                "jobId": app["jobId"],
            }
        )
    )


ROUTES = [
    Route(f"{BASE}/job-applications/{{jobApplicationId}}", get_job_application, methods=["GET"]),
]
