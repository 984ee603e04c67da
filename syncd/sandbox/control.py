"""``/_sandbox/…``: the tenant's truth for tests (snapshot, stats) and levers to change it (clock,
activity, offers, hires, deletions, faults, credentials, reset). Apart from the SmartRecruiters
paths, never rate limited, never faulted."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox import activity
from syncd.sandbox.auth import ALL_SCOPES
from syncd.sandbox.errors import bad_request, not_found
from syncd.sandbox.faults import FaultInjector, FaultPlan, FaultSpecError
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.paging import TokenPolicy
from syncd.sandbox.server import sandbox_of, tenant_of
from syncd.sandbox.state import APPLICATION_STATUSES, OFFER_STATUSES, Tenant
from syncd.sandbox.timefmt import normalize, parse_iso
from syncd.sandbox.validate import Field, check, read_json


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    return check(await read_json(request), {})


def snapshot(t: Tenant, include: set[str] | None = None) -> dict[str, Any]:
    want = include or {
        "jobs",
        "candidates",
        "applications",
        "offers",
        "interviews",
        "approvals",
        "deleted",
    }
    out: dict[str, Any] = {"now": t.now()}
    if "jobs" in want:
        out["jobs"] = {
            jid: {
                **job,
                "statusHistory": t.job_history.get(jid, []),
                "positions": list(t.positions.get(jid, {}).values()),
                # Each member's id and role (what GET /jobs/{jobId}/hiring-team answers).
                "hiringTeam": [
                    {"id": m["id"], "role": m["role"]} for m in t.hiring_team.get(jid, [])
                ],
            }
            for jid, job in t.jobs.items()
        }
    if "candidates" in want:
        out["candidates"] = dict(t.candidates)
    if "applications" in want:
        out["applications"] = {
            aid: {**app, "history": t.app_history[aid]} for aid, app in t.applications.items()
        }
    if "offers" in want:
        out["offers"] = dict(t.offers)
    if "interviews" in want:
        # Each with its applicationId, candidateId, jobId and timeslots (interviewers, noShow).
        out["interviews"] = dict(t.interviews)
    if "approvals" in want:
        # Every request ever made, and which one is the latest of each job and offer (what
        # ``…/approvals/latest`` answers).
        out["approvals"] = dict(t.approvals)
        out["latestApprovals"] = {"job": dict(t.job_approvals), "offer": dict(t.offer_approvals)}
    if "deleted" in want:
        out["deleted"] = {
            "candidates": [
                e["entityId"]
                for e in t.audit
                if e["eventName"] in ("CANDIDATE_DELETED", "CANDIDATE_DELETED_DUE_TO_MERGE")
            ],
            "jobs": [e["entityId"] for e in t.audit if e["eventName"] == "JOB_DELETED"],
        }
    return out


async def get_snapshot(request: Request) -> Response:
    raw = request.query_params.get("include")
    include = set(raw.split(",")) if raw else None
    return json_response(snapshot(tenant_of(request), include))


async def get_stats(request: Request) -> Response:
    sb = sandbox_of(request)
    t = sb.tenant
    return json_response(
        {
            "stats": dict(sb.stats),
            "faults": sb.faults.counts,
            "throttled": sb.limiter.rejected,
            "counts": {
                "jobs": len(t.jobs),
                "candidates": len(t.candidates),
                "applications": len(t.applications),
                "offers": len(t.offers),
                "auditEvents": len(t.audit),
            },
            "now": t.now(),
        }
    )


async def post_reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return json_response({"reset": True, "now": tenant_of(request).now()})


async def post_clock(request: Request) -> Response:
    body = check(
        await _body(request),
        {"advance": Field((int, float)), "set": Field(str), "freeze": Field(bool)},
    )
    clock = tenant_of(request).clock
    try:
        if body.get("freeze") is True:
            clock.freeze()
        elif body.get("freeze") is False:
            clock.unfreeze()
        if "advance" in body:
            clock.advance(float(body["advance"]))
        if "set" in body:
            clock.set(parse_iso(body["set"]))
    except ValueError as exc:
        raise bad_request("INVALID_CLOCK", str(exc)) from None
    return json_response({"now": clock.now_iso(), "frozen": clock.frozen})


async def post_activity(request: Request) -> Response:
    body = check(await _body(request), {"steps": Field(int)})
    steps = body.get("steps", 1)
    if not 1 <= steps <= 100000:
        raise bad_request("INVALID_STEPS", "'steps' must be between 1 and 100000")
    t = tenant_of(request)
    done = [activity.step(t) for _ in range(steps)]
    return json_response({"steps": done})


async def post_faults(request: Request) -> Response:
    body = check(
        await _body(request),
        {
            "spec": Field(str, required=True),
            "timeoutSeconds": Field((int, float)),
            "seed": Field(int),
        },
    )
    sb = sandbox_of(request)
    try:
        plan = FaultPlan.parse(
            body["spec"], float(body.get("timeoutSeconds", sb.faults.plan.timeout_seconds))
        )
    except FaultSpecError as exc:
        raise bad_request("INVALID_FAULTS", str(exc)) from None
    # A new plan starts a new seeded draw sequence, so the same plan and seed give the same
    # faults in the same order however many requests came before.
    seed = body.get("seed", sb.options.seed)
    sb.faults = FaultInjector(plan, seed)
    return json_response(
        {
            "rates": plan.rates,
            "latency": plan.latency,
            "timeoutSeconds": plan.timeout_seconds,
            "seed": seed,
        }
    )


async def post_page_tokens(request: Request) -> Response:
    """``{"forget": true}``: every page token issued so far is refused (400 INVALID_PAGE_ID), as
    after a restart of the API's side; ``{"refuseAll": bool}``: refuse every page token (or stop
    refusing). Answers the policy in force."""
    body = check(await _body(request), {"forget": Field(bool), "refuseAll": Field(bool)})
    sb = sandbox_of(request)
    p = sb.page_tokens
    sb.page_tokens = TokenPolicy(
        p.epoch + 1 if body.get("forget") else p.epoch, body.get("refuseAll", p.refuse_all)
    )
    return json_response({"epoch": sb.page_tokens.epoch, "refuseAll": sb.page_tokens.refuse_all})


async def post_limits(request: Request) -> Response:
    body = check(
        await _body(request),
        {
            "enabled": Field(bool),
            "rate": Field((int, float)),
            "concurrent": Field(int),
            "candidatesConcurrent": Field(int),
            "publicationRate": Field((int, float)),
        },
    )
    sb = sandbox_of(request)
    c = sb.limiter.config
    c.enabled = body.get("enabled", c.enabled)
    c.rate = float(body.get("rate", c.rate))
    c.concurrent = body.get("concurrent", c.concurrent)
    c.candidates_concurrent = body.get("candidatesConcurrent", c.candidates_concurrent)
    c.publication_rate = float(body.get("publicationRate", c.publication_rate))
    sb.limiter.by_credential.clear()
    return json_response({"enabled": c.enabled, "rate": c.rate, "concurrent": c.concurrent})


def _app(t: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    check(body, {"candidateId": Field(str, required=True), "jobId": Field(str, required=True)})
    return t.application(body["candidateId"], body["jobId"])


async def post_offer(request: Request) -> Response:
    t = tenant_of(request)
    body = check(await _body(request), {"status": Field(str, enum=OFFER_STATUSES)})
    offer = t.create_offer(_app(t, body), body.get("status", "CREATED"))
    return json_response(offer, 201)


async def post_offer_accept(request: Request) -> Response:
    t = tenant_of(request)
    offer = t.offers.get(request.path_params["offerId"])
    if offer is None:
        raise not_found("OFFER_NOT_FOUND", "Offer not found")
    t.set_offer_status(offer, "ACCEPTED")
    return json_response(offer)


async def post_hire(request: Request) -> Response:
    t = tenant_of(request)
    body = check(await _body(request), {"startsOn": Field(str)})
    starts = normalize(body["startsOn"]) if body.get("startsOn") else None
    app = t.hire(_app(t, body), starts_on=starts)
    return json_response({**app, "history": t.app_history[app["id"]]})


async def post_status(request: Request) -> Response:
    t = tenant_of(request)
    body = check(
        await _body(request),
        {"status": Field(str, required=True, enum=APPLICATION_STATUSES), "subStatus": Field(str)},
    )
    app = _app(t, body)
    t.set_status(app, body["status"], body.get("subStatus"))
    return json_response(app)


async def post_candidate_delete(request: Request) -> Response:
    t = tenant_of(request)
    body = check(await _body(request), {"mergedInto": Field(str)})
    t.delete_candidate(request.path_params["candidateId"], merged_into=body.get("mergedInto"))
    return json_response({"deleted": request.path_params["candidateId"]})


async def post_candidate_update(request: Request) -> Response:
    t = tenant_of(request)
    cand = t.candidate(request.path_params["candidateId"])
    body = check(
        await _body(request),
        {
            "firstName": Field(str),
            "lastName": Field(str),
            "email": Field(str),
            "phoneNumber": Field(str),
        },
    )
    t.update_candidate(cand, body)
    return json_response(cand)


async def post_job_delete(request: Request) -> Response:
    tenant_of(request).delete_job(request.path_params["jobId"])
    return json_response({"deleted": request.path_params["jobId"]})


async def post_oauth_expire(request: Request) -> Response:
    return json_response({"expired": sandbox_of(request).auth.expire_all()})


async def post_credentials(request: Request) -> Response:
    body = check(
        await _body(request),
        {
            "apiKey": Field(str),
            "clientId": Field(str),
            "clientSecret": Field(str),
            "role": Field(str),
            "scopes": Field(list),
        },
    )
    auth = sandbox_of(request).auth
    scopes = frozenset(body["scopes"]) if "scopes" in body else ALL_SCOPES
    role = body.get("role", "ADMINISTRATOR")
    if body.get("apiKey"):
        auth.add_api_key(body["apiKey"], role=role, scopes=scopes)
    elif body.get("clientId") and body.get("clientSecret"):
        auth.add_client(body["clientId"], body["clientSecret"], role=role, scopes=scopes)
    else:
        raise bad_request("INVALID_CREDENTIAL", "give apiKey, or clientId with clientSecret")
    return json_response({"created": True, "role": role, "scopes": sorted(scopes)}, 201)


async def post_settings(request: Request) -> Response:
    body = check(
        await _body(request), {"onboardingStatusEnabled": Field(bool), "tokenTtl": Field(int)}
    )
    sb = sandbox_of(request)
    if "onboardingStatusEnabled" in body:
        sb.tenant.onboarding_status_enabled = body["onboardingStatusEnabled"]
    if "tokenTtl" in body:
        sb.auth.token_ttl = body["tokenTtl"]
    return json_response(
        {
            "onboardingStatusEnabled": sb.tenant.onboarding_status_enabled,
            "tokenTtl": sb.auth.token_ttl,
        }
    )


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


P = "/_sandbox"
ROUTES = [
    Route("/health", health),
    Route(f"{P}/snapshot", get_snapshot),
    Route(f"{P}/stats", get_stats),
    Route(f"{P}/reset", post_reset, methods=["POST"]),
    Route(f"{P}/clock", post_clock, methods=["POST"]),
    Route(f"{P}/activity", post_activity, methods=["POST"]),
    Route(f"{P}/faults", post_faults, methods=["POST"]),
    Route(f"{P}/limits", post_limits, methods=["POST"]),
    Route(f"{P}/page-tokens", post_page_tokens, methods=["POST"]),
    Route(f"{P}/offers", post_offer, methods=["POST"]),
    Route(f"{P}/offers/{{offerId}}/accept", post_offer_accept, methods=["POST"]),
    Route(f"{P}/hire", post_hire, methods=["POST"]),
    Route(f"{P}/status", post_status, methods=["POST"]),
    Route(f"{P}/candidates/{{candidateId}}/delete", post_candidate_delete, methods=["POST"]),
    Route(f"{P}/candidates/{{candidateId}}/update", post_candidate_update, methods=["POST"]),
    Route(f"{P}/jobs/{{jobId}}/delete", post_job_delete, methods=["POST"]),
    Route(f"{P}/oauth/expire", post_oauth_expire, methods=["POST"]),
    Route(f"{P}/credentials", post_credentials, methods=["POST"]),
    Route(f"{P}/settings", post_settings, methods=["POST"]),
]
