"""Background activity: a live tenant where candidates apply, move through the pipeline, get
offers, are hired, and are sometimes deleted. ``step`` makes one change and is what the control
API calls, so tests can drive activity deterministically instead of waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from syncd.sandbox.generator import CITIES, FIRST, LAST, SUB_STATUSES
from syncd.sandbox.state import FINAL_APPLICATION_STATUSES, Tenant

if TYPE_CHECKING:
    from syncd.sandbox.server import Sandbox

NEXT = {"LEAD": "NEW", "NEW": "IN_REVIEW", "IN_REVIEW": "INTERVIEW", "INTERVIEW": "OFFERED"}
KINDS = ("apply", "advance", "advance", "advance", "reject", "hire", "update", "delete")
WEIGHTS = (20, 25, 15, 10, 10, 8, 10, 2)


def step(t: Tenant) -> dict[str, Any]:
    """One change; returns what it did (kind and ids)."""
    rng = t.rng
    kind = rng.choices(KINDS, WEIGHTS)[0]
    open_apps = [a for a in _sample_apps(t, 40) if a["status"] not in FINAL_APPLICATION_STATUSES]
    if kind == "apply" or not open_apps:
        jobs = [j for j in t.jobs.values() if j["status"] in ("SOURCING", "INTERVIEW", "CREATED")]
        job = rng.choice(jobs or list(t.jobs.values()))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country, cc, region = rng.choice(CITIES)
        n = len(t.candidate_order.keys)
        cand = t.add_candidate(
            {
                "firstName": first,
                "lastName": last,
                "email": f"{first.lower()}.{last.lower()}.live{n}@example.com",
                "location": {
                    "city": city,
                    "country": country,
                    "countryCode": cc,
                    "regionCode": region,
                },
            }
        )
        app = t.add_application(cand["id"], job["id"], emit=False)
        t.emit("candidate.created", {"id": cand["id"]})
        t.emit("application.created", t.app_payload(app))
        return {"kind": "apply", "candidateId": cand["id"], "jobId": job["id"]}
    app = rng.choice(open_apps)
    ids = {"candidateId": app["candidateId"], "jobId": app["jobId"]}
    if kind == "advance":
        status = NEXT.get(app["status"], "OFFERED")
        if status == "OFFERED":
            t.set_status(app, "OFFERED", rng.choice(SUB_STATUSES["OFFERED"]))
            t.create_offer(app, "PENDING_ACCEPTANCE")
        else:
            t.set_status(app, status, rng.choice(SUB_STATUSES[status]))
        return {"kind": "advance", "status": status, **ids}
    if kind == "reject":
        r = rng.choice(t.config["rejection_reasons"])
        t.set_status(app, "REJECTED", reason={"id": r["id"], "label": r["label"]})
        return {"kind": "reject", **ids}
    if kind == "hire":
        t.hire(app)
        return {"kind": "hire", **ids}
    if kind == "update":
        cand = t.candidates[app["candidateId"]]
        t.update_candidate(cand, {"phoneNumber": f"+1555{rng.randrange(10**7):07d}"})
        return {"kind": "update", **ids}
    t.delete_candidate(app["candidateId"])
    return {"kind": "delete", **ids}


def _sample_apps(t: Tenant, n: int) -> list[dict[str, Any]]:
    keys = t.candidate_order.keys
    out = []
    for _ in range(n):
        cid = keys[t.rng.randrange(len(keys))] if keys else None
        for app_id in t.apps_of_candidate.get(cid or "", []):
            out.append(t.applications[app_id])
    return out


async def _run(sandbox: Sandbox) -> None:
    while True:
        rate = sandbox.options.activity_rate
        if rate <= 0:
            return
        await asyncio.sleep(1.0 / rate)
        step(sandbox.tenant)
        sandbox.stats["activity_steps"] += 1


_tasks: dict[int, asyncio.Task[None]] = {}


def start_background(sandbox: Sandbox) -> None:
    if sandbox.options.activity_rate > 0 and id(sandbox) not in _tasks:
        _tasks[id(sandbox)] = asyncio.get_running_loop().create_task(_run(sandbox))


async def stop_background(sandbox: Sandbox) -> None:
    task = _tasks.pop(id(sandbox), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
