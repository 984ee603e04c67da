"""Generated objects beyond jobs, candidates, applications and offers: approvals, interviews,
messages, assessment orders and the assessment partner set-up. Called once at the end of
``generate``.

Deterministic (only ``t.rng``) and cheap: extras exist for a subset of records (interviews for
applications that reached INTERVIEW, approvals for every job and every offer past CREATED,
messages for about one candidate in twelve, assessment orders for about one application in ten
that reached IN_REVIEW), and their audit events are merged into the sorted trail in one pass
instead of one insertion each.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from syncd.sandbox.state import Tenant, approval_record
from syncd.sandbox.timefmt import parse_iso

DAY = 86400.0
HOUR = 3600.0
TIMEZONES = {
    "Berlin": "Europe/Berlin",
    "Paris": "Europe/Paris",
    "London": "Europe/London",
    "New York": "America/New_York",
    "San Francisco": "America/Los_Angeles",
    "Krakow": "Europe/Warsaw",
    "Madrid": "Europe/Madrid",
    "Toronto": "America/Toronto",
}
PACKAGES = (
    ("pkg-cognitive", "Cognitive ability test", "Reasoning and numeracy"),
    ("pkg-personality", "Personality profile", "Work style questionnaire"),
    ("pkg-coding", "Coding challenge", "Two practical programming tasks"),
    ("pkg-video", "Video interview", "Three recorded answers"),
)
SCORE_LABELS = ((80, "Strong"), (55, "Good"), (30, "Average"), (0, "Weak"))
NOTES = (
    "Spoke with #[CANDIDATE:{cid}] today, strong communication skills.",
    "#[CANDIDATE:{cid}] asked about relocation support. @[USER:{uid}] can you follow up?",
    "Reference check for #[CANDIDATE:{cid}] came back positive.",
    "Please review the portfolio of #[CANDIDATE:{cid}] before Friday, @[USER:{uid}].",
    "#[CANDIDATE:{cid}] prefers interviews in the morning.",
)
# (audit event name, entity type, entity id, date, context, author id)
Event = tuple[str, str, str, str, dict[str, Any], str | None]


def new_id(rng: random.Random) -> str:
    """``state.new_id`` (a version 4 UUID from the tenant's RNG) without building a UUID object:
    the extras draw a few hundred thousand ids for a large tenant."""
    x = rng.getrandbits(128)
    x = (x & ~(0xF000 << 64)) | (0x4000 << 64)
    x = (x & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{x:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso(ts: float) -> str:
    """``timefmt.iso`` by the quicker ``isoformat`` (same truncation to milliseconds)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def generate_extras(t: Tenant, anchor: float) -> None:
    events: list[Event] = []
    _config(t)
    _job_approvals(t, anchor, events)
    _offer_approvals(t, anchor, events)
    _interviews(t, anchor)
    _messages(t, anchor)
    _assessments(t, anchor)
    _merge_audit(t, events)


def _config(t: Tenant) -> None:
    for prop in t.config.get("candidate_properties", []):
        if prop.get("type") == "SINGLE_SELECT" and "values" not in prop:
            labels = ("Immediately", "2 weeks", "1 month", "3 months")
            prop["values"] = [{"id": new_id(t.rng), "label": x} for x in labels]
    # Companies that gave the assessment partner consent to integrate: the tenant itself
    # (already integrated) and one more, so the integration set-up can succeed once.
    t.config.setdefault("assessment_consents", [t.company_id, f"{t.company_id}Partner"])
    t.config.setdefault("message_seq", 0)


def _decide(
    rec: dict[str, Any],
    start: float,
    end: float,
    rng: Any,
    *,
    reject: bool = False,
    stop_after: int | None = None,
) -> list[tuple[str, str, float]]:
    """Decide a generated request step by step between ``start`` and ``end``; returns
    (what, approver, when) for the audit trail. ``stop_after`` leaves later steps PENDING."""
    out: list[tuple[str, str, float]] = []
    steps = rec["steps"]
    ts = start
    who = ""
    span = max(end - start, 60.0) / (len(steps) + 1)
    for n, step in enumerate(steps):
        if stop_after is not None and n >= stop_after:
            return out
        ts = min(ts + rng.uniform(0.2, 1.0) * span, end)
        approvers = step["approvers"]
        deciders = approvers if rec["decisionMode"] == "all" else approvers[:1]
        last = reject and n == len(steps) - 1
        for a in approvers:
            if any(a is d for d in deciders):
                a["decision"] = "REJECTED" if last and a is deciders[-1] else "APPROVED"
                a["decidedOn"] = iso(ts)
            else:
                a["decision"] = "SKIPPED"
        step["status"] = "REJECTED" if last else "APPROVED"
        who = deciders[-1]["id"]
        out.append(("STEP_REJECTED" if last else "STEP_APPROVED", who, ts))
        rec["updatedOn"] = iso(ts)
    rec["status"] = "REJECTED" if reject else "APPROVED"
    out.append(("REJECTED" if reject else "APPROVED", who, ts))
    return out


def _job_approvals(t: Tenant, anchor: float, events: list[Event]) -> None:
    rng = t.rng
    user_ids = [u["id"] for u in t.users]
    for jid in t.job_order.keys:
        job = t.jobs[jid]
        team = t.hiring_team.get(jid) or []
        manager = next((m["id"] for m in team if m["role"] == "HIRING_MANAGER"), user_ids[0])
        steps = [[manager]]
        if rng.random() < 0.5:
            steps.append(rng.sample([u for u in user_ids if u != manager], 2))
        kind, mode = ("parallel", "all") if rng.random() < 0.3 else ("sequential", "any")
        created = parse_iso(job["createdOn"])
        rec = approval_record(new_id(rng), "job", jid, steps, kind, mode, job["createdOn"])
        events.append(("JOB_APPROVAL_REQUESTED", "JOB", jid, rec["createdOn"], _ctx(rec), None))
        if job["status"] != "CREATED":
            end = min(created + 3 * DAY, anchor - 1)
            for what, who, ts in _decide(rec, created, end, rng):
                events.append((f"JOB_APPROVAL_{what}", "JOB", jid, iso(ts), _ctx(rec), who))
        t.approvals[rec["id"]] = rec
        t.job_approvals[jid] = rec["id"]


def _offer_approvals(t: Tenant, anchor: float, events: list[Event]) -> None:
    rng = t.rng
    user_ids = [u["id"] for u in t.users]
    for oid in t.offer_order.keys:
        offer = t.offers[oid]
        if offer["status"] == "CREATED":
            continue  # not sent for approval yet
        team = t.hiring_team.get(offer["jobId"]) or []
        manager = next((m["id"] for m in team if m["role"] == "HIRING_MANAGER"), user_ids[0])
        steps = [[manager], [rng.choice(user_ids)]]
        rec = approval_record(
            new_id(rng), "offer", oid, steps, "sequential", "any", offer["createdOn"]
        )
        start = parse_iso(offer["createdOn"])
        updated = parse_iso(offer["updatedOn"])
        end = updated if updated > start else min(start + 2 * DAY, anchor - 1)
        if offer["status"] == "PENDING_APPROVAL":
            decided = _decide(rec, start, end, rng, stop_after=rng.randrange(2))
        else:
            decided = _decide(rec, start, end, rng, reject=offer["status"] == "NOT_APPROVED")
        for what, who, ts in decided:
            events.append((f"OFFER_APPROVAL_{what}", "OFFER", oid, iso(ts), _ctx(rec), who))
        t.approvals[rec["id"]] = rec
        t.offer_approvals[oid] = rec["id"]


def _ctx(rec: dict[str, Any]) -> dict[str, Any]:
    return {"approvalId": rec["id"]}


def _interviews(t: Tenant, anchor: float) -> None:
    rng = t.rng
    user_ids = [u["id"] for u in t.users]
    for app_id, app in t.applications.items():
        entry = next((h for h in t.app_history[app_id] if h["status"] == "INTERVIEW"), None)
        if entry is None:
            continue
        job = t.jobs.get(app["jobId"])
        if job is None:
            continue
        team = t.hiring_team.get(app["jobId"]) or []
        organizer = next((m["id"] for m in team if m["role"] == "RECRUITER"), user_ids[0])
        panel = [m["id"] for m in team if m["role"] != "RECRUITER"] or [organizer]
        start = parse_iso(entry["changedOn"])
        slots = []
        for n in range(rng.choice((1, 1, 2))):
            begins = (start + rng.uniform(1, 6) * DAY + n * DAY) // HOUR * HOUR
            past = begins < anchor
            people = panel if rng.random() < 0.5 else panel[:1]
            slots.append(
                {
                    "id": new_id(rng),
                    "title": ("Phone screen", "Technical interview", "Panel interview")[n],
                    "interviewType": t.interview_types[n % len(t.interview_types)]
                    if t.interview_types
                    else None,
                    "place": "Video call" if rng.random() < 0.6 else "Office",
                    "startsOn": iso(begins),
                    "endsOn": iso(begins + rng.choice((0.75, 1.0, 1.5)) * HOUR),
                    "interviewers": [
                        {
                            "id": uid,
                            "status": "accepted"
                            if past or rng.random() < 0.6
                            else rng.choice(("pending", "tentative")),
                        }
                        for uid in people
                    ],
                    "candidateStatus": "accepted"
                    if past or rng.random() < 0.5
                    else rng.choice(("pending", "tentative", "declined")),
                    "noShow": past and rng.random() < 0.03,
                }
            )
        iv = {
            "id": new_id(rng),
            "applicationId": app_id,
            "candidateId": app["candidateId"],
            "jobId": app["jobId"],
            "location": f"{job['location'].get('city', '')} office",
            "organizerId": organizer,
            "timezone": TIMEZONES.get(job["location"].get("city", ""), "UTC"),
            "timeslots": slots,
            "createdOn": entry["changedOn"],
            "source": "SmartRecruiters",
        }
        t.interviews[iv["id"]] = iv
        t.interviews_of_app.setdefault(app_id, []).append(iv["id"])


def _messages(t: Tenant, anchor: float) -> None:
    rng = t.rng
    user_ids = [u["id"] for u in t.users]
    made: list[dict[str, Any]] = []
    for cid in t.candidate_order.keys:
        if rng.random() >= 0.08:
            continue
        apps = t.apps_of_candidate.get(cid) or []
        if not apps:
            continue
        for _ in range(rng.randint(1, 3)):
            app = t.applications[rng.choice(apps)]
            when = min(parse_iso(app["createdOn"]) + rng.uniform(0.1, 20) * DAY, anchor - 1)
            everyone = rng.random() < 0.3
            made.append(
                {
                    "id": new_id(rng),
                    "candidateId": cid,
                    "candidateIds": [cid],
                    "applicationIds": [app["id"]],
                    "content": rng.choice(NOTES).format(cid=cid, uid=rng.choice(user_ids)),
                    "createdOn": iso(when),
                    "visibility": "PUBLIC" if everyone else "INTERNAL",
                    "authorId": rng.choice(user_ids),
                    "shareWith": {"everyone": True}
                    if everyone
                    else {"hiringTeamOf": [app["jobId"]]},
                }
            )
    made.sort(key=lambda m: m["createdOn"])
    seq = int(t.config.get("message_seq", 0))
    for m in made:
        seq += 1
        m["seq"] = seq
        t.messages[m["id"]] = m
    t.config["message_seq"] = seq


def _assessments(t: Tenant, anchor: float) -> None:
    rng = t.rng
    base = "https://assessments.partner.example"
    t.assessment_partner_config = {
        "consentUrl": f"{base}/integration",
        "consentDisplayMode": "REDIRECT",
        "assessmentPackageListUrl": f"{base}/packages",
        "singleAssessmentPackageUrl": f"{base}/packages/{{assessmentPackageId}}",
        "packageOrderUrl": f"{base}/packages/orders",
        "oauthTokenUrl": f"{base}/oauth/token",
        "integrationDisableUrl": f"{base}/integrations/companies/{{companyId}}",
        "fields": [],
        "supportedAssessmentTypes": ["SKILL_TEST", "BEHAVIORAL_ASSESSMENT", "VIDEO_INTERVIEW"],
    }
    t.assessment_integrations[t.company_id] = {
        "companyId": t.company_id,
        "partnerClientId": "partner-client",
        "clientId": f"{t.company_id.lower()}-{rng.getrandbits(32):08x}",
        "createdOn": iso(anchor - 400 * DAY),
    }
    for app_id in t.applications:
        if rng.random() >= 0.1:
            continue
        entry = next((h for h in t.app_history[app_id] if h["status"] == "IN_REVIEW"), None)
        if entry is None:
            continue
        pkg_id, name, desc = rng.choice(PACKAGES)
        sent = min(parse_iso(entry["changedOn"]) + rng.uniform(0.01, 1) * DAY, anchor - 2)
        status = rng.choices(("COMPLETED", "IN_PROGRESS", "PENDING", "EXPIRED"), (6, 2, 1, 1))[0]
        results: dict[str, Any] = {
            "name": name,
            "status": status,
            "assessmentPackageDate": iso(sent),
        }
        if status == "COMPLETED":
            raw = rng.randrange(101)
            label = next(lbl for floor, lbl in SCORE_LABELS if raw >= floor)
            done = min(sent + rng.uniform(0.1, 5) * DAY, anchor - 1)
            results.update(
                submissionDate=iso(done),
                score={"raw": raw, "min": 0, "max": 100},
                scoreLabel=label,
                summary=f"{label} result in {name.lower()}",
                assessmentResults=[
                    {
                        "assessmentId": f"{pkg_id}-1",
                        "assessmentName": name,
                        "assessmentDate": iso(sent),
                        "submissionDate": iso(done),
                        "status": "COMPLETED",
                        "score": {"raw": raw, "min": 0, "max": 100},
                        "scoreLabel": label,
                    }
                ],
            )
        order: dict[str, Any] = {
            "orderId": new_id(rng),
            "applicationId": app_id,
            "assessmentPackageId": pkg_id,
            "assessmentPackageName": name,
            "description": desc,
            "createdOn": iso(sent),
            "results": results,
            "uploads": [],
        }
        t.assessment_orders[order["orderId"]] = order


def _merge_audit(t: Tenant, events: list[Event]) -> None:
    """Record the extras' audit events through ``record_audit`` on an empty trail (each one an
    append), then merge the two sorted runs: inserting each into the generated trail would
    cost a list shift per event."""
    events.sort(key=lambda e: e[3])
    trail, dates = t.audit, t.audit_dates
    t.audit, t.audit_dates = [], []
    try:
        for name, etype, eid, when, ctx, author in events:
            t.record_audit(name, etype, eid, ctx, at=when, author_id=author)
        mine = t.audit
    finally:
        t.audit, t.audit_dates = trail, dates
    trail.extend(mine)
    trail.sort(key=lambda e: str(e["eventDate"]))
    dates[:] = [e["eventDate"] for e in trail]
