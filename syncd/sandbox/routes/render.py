"""How stored records look on the wire. One place per object so every endpoint agrees."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from syncd.sandbox.routes.common import action, drop_none
from syncd.sandbox.state import Tenant


def _source_label(t: Tenant, source: dict[str, Any]) -> str:
    for s in t.config.get("source_values", []):
        if s["id"] == source.get("sourceId"):
            return str(s["label"])
    return str(source.get("sourceId", ""))


def assignment(request: Request, t: Tenant, app: dict[str, Any]) -> dict[str, Any]:
    job = t.jobs.get(app["jobId"])
    return drop_none(
        {
            "job": {
                "id": app["jobId"],
                "title": job["title"] if job else "",
                "actions": {"details": action(request, f"/jobs/{app['jobId']}")},
            },
            "status": app["status"],
            "subStatus": app.get("subStatus"),
        }
    )


def candidate_summary(request: Request, t: Tenant, cand: dict[str, Any]) -> dict[str, Any]:
    cid = cand["id"]
    apps = [t.applications[a] for a in t.apps_of_candidate.get(cid, [])]
    out = {**cand}
    out.pop("phoneNumber", None)
    out.pop("web", None)
    out.pop("education", None)
    out.pop("experience", None)
    if apps:
        out["primaryAssignment"] = assignment(request, t, apps[-1])
        out["secondaryAssignments"] = [assignment(request, t, a) for a in apps[:-1]]
    out["actions"] = {
        "details": action(request, f"/candidates/{cid}"),
        "properties": action(request, f"/candidates/{cid}/properties"),
    }
    return out


def candidate_details(request: Request, t: Tenant, cand: dict[str, Any]) -> dict[str, Any]:
    cid = cand["id"]
    apps = [t.applications[a] for a in t.apps_of_candidate.get(cid, [])]
    out = {**cand}
    if apps:
        out["primaryAssignment"] = {
            **assignment(request, t, apps[-1]),
            **_assignment_extra(t, apps[-1]),
        }
        out["secondaryAssignments"] = [
            {**assignment(request, t, a), **_assignment_extra(t, a)} for a in apps[:-1]
        ]
    out["actions"] = {
        "properties": action(request, f"/candidates/{cid}/properties"),
        "attachments": action(request, f"/candidates/{cid}/attachments"),
        "consent": action(request, f"/candidates/{cid}/consent"),
        "consents": action(request, f"/candidates/{cid}/consents"),
    }
    return out


def _assignment_extra(t: Tenant, app: dict[str, Any]) -> dict[str, Any]:
    return drop_none({"startsOn": app.get("startsOn"), "source": _source_label(t, app["source"])})


def application(request: Request, t: Tenant, app: dict[str, Any]) -> dict[str, Any]:
    cid, jid = app["candidateId"], app["jobId"]
    return drop_none(
        {
            "applicationId": app["id"],
            "candidateId": cid,
            "jobId": jid,
            "status": app["status"],
            "subStatus": app.get("subStatus"),
            "startsOn": app.get("startsOn"),
            "source": _source_label(t, app["source"]),
            "sourceDetails": app["source"],
            "reasonOfRejection": app.get("reasonOfRejection"),
            "reasonOfWithdrawal": app.get("reasonOfWithdrawal"),
            "onboardingStatus": app.get("onboardingStatus"),
            "createdOn": app["createdOn"],
            "updatedOn": app["updatedOn"],
            "actions": {
                "sourceDetails": action(
                    request,
                    f"/configuration/sources/{app['source']['sourceTypeId']}/values/{app['source']['sourceId']}",
                )
            },
            "url": f"{request.base_url}candidates/{cid}/jobs/{jid}",
        }
    )


def job_summary(request: Request, job: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "title",
        "refNumber",
        "createdOn",
        "updatedOn",
        "lastActivityOn",
        "department",
        "location",
        "status",
        "postingStatus",
        "language",
    )
    out = {k: job[k] for k in keys if k in job}
    out["actions"] = {"details": action(request, f"/jobs/{job['id']}")}
    return out


def job_details(request: Request, job: dict[str, Any]) -> dict[str, Any]:
    jid = job["id"]
    return {
        **job,
        "actions": {
            "hiringTeam": action(request, f"/jobs/{jid}/hiring-team"),
            "publications": action(request, f"/jobs/{jid}/publication"),
            "positions": action(request, f"/jobs/{jid}/positions"),
            "details": action(request, f"/jobs/{jid}"),
        },
    }


def offer(request: Request, o: dict[str, Any]) -> dict[str, Any]:
    cid, jid = o["candidateId"], o["jobId"]
    return {
        "id": o["id"],
        "status": o["status"],
        "createdOn": o["createdOn"],
        "updatedOn": o["updatedOn"],
        "properties": o.get("properties", {}),
        "actions": {
            "candidate": action(request, f"/candidates/{cid}"),
            "job": action(request, f"/jobs/{jid}"),
            "details": action(request, f"/candidates/{cid}/jobs/{jid}/offers/{o['id']}"),
        },
    }
