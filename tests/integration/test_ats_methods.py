"""Every client method over real HTTP against the sandbox, checked against the sandbox's truth
(``/_sandbox/snapshot``). Nothing is skipped: a client path the sandbox does not route (a typo,
an endpoint it lacks) answers 404 ``NOT_FOUND`` or 405 and fails its test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from syncd.ats import (
    BadRequestError,
    HttpError,
    NotFoundError,
    Page,
    PermissionDeniedError,
    SmartRecruitersClient,
)
from syncd.ats.models import Application, Candidate, Job, Offer
from syncd.config import SmartRecruitersSettings
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN, sandbox_options

T = TypeVar("T")


@pytest.fixture(scope="module")
def srv() -> Iterator[ThreadServer]:
    """Its own tenant (these tests write), limits off to stay quick; limits have their tests."""
    server = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def truth(srv: ThreadServer) -> dict[str, Any]:
    return httpx.get(f"{srv.base_url}/_sandbox/snapshot").json()


def settings_for(srv: ThreadServer, **kw: Any) -> SmartRecruitersSettings:
    base: dict[str, Any] = {"base_url": srv.base_url, "api_key": TOKEN, "timeout": 10}
    base.update(kw)
    return SmartRecruitersSettings(**base)


def with_client(srv: ThreadServer, work: Callable[[SmartRecruitersClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with SmartRecruitersClient(settings_for(srv)) as sr:
            return await work(sr)

    return asyncio.run(go())


def snapshot(srv: ThreadServer, what: str) -> dict[str, Any]:
    return httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": what}).json()[what]


def an_application(truth: dict[str, Any], **match: Any) -> dict[str, Any]:
    for app in truth["applications"].values():
        if all(app.get(k) == v for k, v in match.items()):
            return dict(app)
    raise AssertionError(f"no application with {match}")


# candidates ---------------------------------------------------------------------------------


def test_candidate_pages_match_the_tenant(srv: ThreadServer, truth: dict[str, Any]) -> None:
    async def work(sr: SmartRecruitersClient) -> tuple[list[Page], int]:
        return [p async for p in sr.candidates.pages(limit=40)], sr.calls

    pages, calls = with_client(srv, work)
    ids = [c["id"] for p in pages for c in p.items]
    with_apps = {a["candidateId"] for a in truth["applications"].values()}
    assert len(ids) == len(set(ids)) and set(ids) == with_apps
    assert pages[0].total == len(with_apps) and pages[-1].next_page_id is None
    assert all(p.next_page_id for p in pages[:-1]) and calls == len(pages)
    Candidate.model_validate(pages[0].items[0])  # the typed view accepts the raw JSON


def test_candidate_filters_and_updated_after(srv: ThreadServer, truth: dict[str, Any]) -> None:
    hired = {a["candidateId"] for a in truth["applications"].values() if a["status"] == "HIRED"}
    stamps = sorted(c["updatedOn"] for c in truth["candidates"].values())
    cut = datetime.fromisoformat(stamps[len(stamps) // 2].replace("Z", "+00:00"))

    async def work(sr: SmartRecruitersClient) -> tuple[set[str], set[str]]:
        got = {c["id"] async for p in sr.candidates.pages(status="HIRED") for c in p.items}
        recent = {c["id"] async for p in sr.candidates.pages(updated_after=cut) for c in p.items}
        return got, recent

    got, recent = with_client(srv, work)
    assert got == hired
    expected = {
        c["id"]
        for c in truth["candidates"].values()
        if datetime.fromisoformat(c["updatedOn"].replace("Z", "+00:00")) > cut
        and any(a["candidateId"] == c["id"] for a in truth["applications"].values())
    }
    assert recent == expected


def test_candidate_details_and_errors(srv: ThreadServer, truth: dict[str, Any]) -> None:
    cid = next(iter(truth["candidates"]))

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        with pytest.raises(NotFoundError) as exc:
            await sr.candidates.get("no-such-candidate")
        assert exc.value.codes == ["CANDIDATE_NOT_FOUND"]
        assert exc.value.path == "/candidates/no-such-candidate"
        with pytest.raises(BadRequestError) as bad:
            async for _ in sr.candidates.pages(page_id="garbage!"):
                pass
        assert bad.value.codes == ["INVALID_PAGE_ID"]
        return await sr.candidates.get(cid)

    got = with_client(srv, work)
    assert got["id"] == cid and got["email"] == truth["candidates"][cid]["email"]


def test_candidate_consents_tags_attachments_cv_delete(
    srv: ThreadServer, truth: dict[str, Any]
) -> None:
    # the last application: other tests pick the first match, and this one deletes its candidate
    app = list(truth["applications"].values())[-1]
    cid, jid = app["candidateId"], app["jobId"]

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["consent"] = await sr.candidates.consent(cid)
        out["consents"] = await sr.candidates.consents(cid)
        out["requests"] = await sr.candidates.request_consents([cid])
        out["tags"] = await sr.candidates.set_tags(cid, ["syncd", "vip"])
        att = await sr.applications.add_attachment(
            cid, jid, ("cv.pdf", b"%PDF-1.4 test", "application/pdf")
        )
        out["attachment"] = att
        await sr.candidates.delete_attachment(att["id"])
        out["cv"] = await sr.candidates.parse_cv(
            ("cv.txt", b"Jane Doe\njane@example.com\n", "text/plain")
        )
        return out

    out = with_client(srv, work)
    assert out["consent"] and isinstance(out["consents"], list)
    assert snapshot(srv, "candidates")[cid]["tags"] == ["syncd", "vip"]
    assert out["attachment"]["id"] and out["cv"]["id"]

    async def delete(sr: SmartRecruitersClient) -> None:
        await sr.candidates.delete(cid)
        with pytest.raises(NotFoundError):
            await sr.candidates.get(cid)

    with_client(srv, delete)
    assert cid not in snapshot(srv, "candidates")


# applications -------------------------------------------------------------------------------


def test_application_reads(srv: ThreadServer, truth: dict[str, Any]) -> None:
    app = an_application(truth, status="HIRED")
    cid, jid = app["candidateId"], app["jobId"]

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        return {
            "app": await sr.applications.get(cid, jid),
            "history": await sr.applications.status_history(cid, jid),
            "by_id": await sr.applications.get_by_id(app["id"]),
            "props": await sr.applications.properties(cid, jid),
            "answers": await sr.applications.screening_answers(cid, jid),
        }

    got = with_client(srv, work)
    assert Application.model_validate(got["app"]).status == "HIRED"
    assert [h["status"] for h in got["history"]] == [h["status"] for h in app["history"]]
    assert (got["by_id"]["profileId"], got["by_id"]["jobId"]) == (cid, jid)
    assert isinstance(got["props"], list) and isinstance(got["answers"], list)


def test_application_writes(srv: ThreadServer, truth: dict[str, Any]) -> None:
    app = an_application(truth, status="HIRED")
    other = an_application(truth, status="IN_REVIEW")
    source = snapshot(srv, "applications")[other["id"]]["source"]

    async def work(sr: SmartRecruitersClient) -> None:
        await sr.applications.set_onboarding_status(
            app["candidateId"], app["jobId"], "READY_TO_ONBOARD"
        )
        await sr.applications.set_status(other["candidateId"], other["jobId"], "INTERVIEW")
        with pytest.raises(BadRequestError) as exc:
            await sr.applications.set_status(
                other["candidateId"], other["jobId"], "INTERVIEW", reason={"id": "x"}
            )
        assert exc.value.codes == ["NO_REASON_SUPPORT_FOR_STATUS"]
        if source and source.get("sourceTypeId"):
            await sr.applications.set_source(
                other["candidateId"], other["jobId"], source["sourceTypeId"], source["sourceId"]
            )

    with_client(srv, work)
    apps = snapshot(srv, "applications")
    assert apps[app["id"]]["onboardingStatus"] == "READY_TO_ONBOARD"
    assert apps[other["id"]]["status"] == "INTERVIEW"


# jobs ---------------------------------------------------------------------------------------


def test_job_pages_details_history_positions(srv: ThreadServer, truth: dict[str, Any]) -> None:
    jobs = truth["jobs"]
    jid = next(j for j, v in jobs.items() if v["positions"])
    stamps = sorted(j["lastActivityOn"] for j in jobs.values())
    cut = datetime.fromisoformat(stamps[len(stamps) // 2].replace("Z", "+00:00"))

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        pos = await sr.jobs.positions(jid)
        return {
            "ids": [j["id"] async for p in sr.jobs.pages(limit=7) for j in p.items],
            "active": {
                j["id"] async for p in sr.jobs.pages(last_activity_after=cut) for j in p.items
            },
            "job": await sr.jobs.get(jid),
            "history": await sr.jobs.status_history(jid),
            "positions": pos,
            "position": await sr.jobs.position(jid, pos[0]["id"]),
        }

    got = with_client(srv, work)
    assert len(got["ids"]) == len(set(got["ids"])) and set(got["ids"]) == set(jobs)
    assert got["active"] == {
        j for j, v in jobs.items() if v["lastActivityOn"] > stamps[len(stamps) // 2]
    }
    assert Job.model_validate(got["job"]).id == jid
    assert [h["status"] for h in got["history"]] == [
        h["status"] for h in jobs[jid]["statusHistory"]
    ]
    assert {p["id"] for p in got["positions"]} == {p["id"] for p in jobs[jid]["positions"]}
    assert got["position"]["id"] == got["positions"][0]["id"]


def test_job_writes_and_extras(srv: ThreadServer, truth: dict[str, Any]) -> None:
    template = next(iter(truth["jobs"].values()))
    body = {
        "title": "Client Test Engineer",
        "location": {"countryCode": "de", "city": "Berlin"},
        **{k: {"id": template[k]["id"]} for k in ("industry", "function", "experienceLevel")},
    }

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        out: dict[str, Any] = {}
        job = await sr.jobs.create(body)
        jid = job["id"]
        out["job"] = job
        out["updated"] = await sr.jobs.update(jid, {**body, "title": "Renamed"})
        out["status"] = await sr.jobs.set_status(jid, "SOURCING")
        out["position"] = await sr.jobs.create_position(
            jid,
            {
                "type": "NEW",
                "positionOpenDate": "2026-01-01T00:00:00.000Z",
                "targetStartDate": "2026-03-01T00:00:00.000Z",
            },
        )
        out["headcount"] = await sr.jobs.set_headcount(
            jid, {"min": 1000, "max": 2000, "currency": "EUR"}
        )
        out["team"] = await sr.jobs.hiring_team(jid)
        if out["team"]:
            try:
                await sr.jobs.remove_hiring_team_member(jid, out["team"][0]["id"])
            except BadRequestError as exc:  # a new job's team is its creator alone
                assert exc.codes == ["INVALID_HIRING_TEAM_STATE"]
        try:
            out["note"] = await sr.jobs.note(jid)
        except NotFoundError as exc:  # a new job has no note yet
            out["note"] = exc.codes
        ad = await sr.jobs.create_job_ad(jid, {"title": "Ad"})
        out["ad"] = await sr.jobs.update_job_ad(jid, ad["id"], {"title": "Ad 2"})
        out["published"] = await sr.jobs.publish(jid)
        await sr.jobs.unpublish_job_ad(jid, ad["id"])
        await sr.jobs.unpublish(jid)
        out["cand"] = await sr.jobs.add_candidate(
            jid, {"firstName": "Ada", "lastName": "Byron", "email": "ada@example.com"}
        )
        try:
            out["approval"] = await sr.jobs.latest_approval(jid)
        except NotFoundError as exc:  # a job without an approval is a documented 404
            out["approval"] = exc.codes
        return out

    out = with_client(srv, work)
    jobs = snapshot(srv, "jobs")
    jid = out["job"]["id"]
    assert jobs[jid]["title"] == "Renamed" and jobs[jid]["status"] == "SOURCING"
    assert out["position"]["id"] in {p["id"] for p in jobs[jid]["positions"]}
    assert out["cand"]["id"] in snapshot(srv, "candidates")


# offers -------------------------------------------------------------------------------------


def test_offers_list_filters_and_per_application(srv: ThreadServer) -> None:
    truth = {k: snapshot(srv, k) for k in ("offers", "applications")}  # after earlier deletes
    offers = truth["offers"]
    one = next(iter(offers.values()))
    no_offer = next(
        a
        for a in truth["applications"].values()
        if a["id"] not in {o["applicationId"] for o in offers.values()}
    )

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        return {
            "all": [o["id"] async for p in sr.offers.pages(limit=9) for o in p.items],
            "accepted": {
                o["id"] async for p in sr.offers.pages(status=["ACCEPTED"]) for o in p.items
            },
            "mine": await sr.offers.for_application(one["candidateId"], one["jobId"]),
            "none": await sr.offers.for_application(no_offer["candidateId"], no_offer["jobId"]),
            "one": await sr.offers.get(one["candidateId"], one["jobId"], one["id"]),
        }

    got = with_client(srv, work)
    assert sorted(got["all"]) == sorted(offers) and len(got["all"]) == len(set(got["all"]))
    assert got["accepted"] == {o for o, v in offers.items() if v["status"] == "ACCEPTED"}
    assert one["id"] in {o["id"] for o in got["mine"]} and got["none"] == []
    assert Offer.model_validate(got["one"]).status == one["status"]

    async def approval(sr: SmartRecruitersClient) -> Any:
        try:
            return await sr.offers.latest_approval(one["candidateId"], one["jobId"], one["id"])
        except NotFoundError as exc:
            return exc.codes

    assert with_client(srv, approval)


def test_offers_created_window(srv: ThreadServer, truth: dict[str, Any]) -> None:
    stamps = sorted(o["createdOn"] for o in truth["offers"].values())
    lo = datetime.fromisoformat(stamps[len(stamps) // 4].replace("Z", "+00:00"))
    hi = lo + timedelta(days=60)

    async def work(sr: SmartRecruitersClient) -> set[str]:
        return {
            o["id"]
            async for p in sr.offers.pages(created_after=lo, created_before=hi)
            for o in p.items
        }

    got = with_client(srv, work)
    lo_s = lo.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    hi_s = hi.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert got == {o for o, v in truth["offers"].items() if lo_s <= v["createdOn"] < hi_s}


# audit --------------------------------------------------------------------------------------


def test_audit_pages_and_event_filter(srv: ThreadServer) -> None:
    since = datetime.now(UTC) - timedelta(days=400)

    async def work(sr: SmartRecruitersClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        every = [e async for p in sr.audit.pages(event_date_after=since, limit=50) for e in p.items]
        created = [
            e
            async for p in sr.audit.pages(
                event_date_after=since, event_names=["JOB_APPLICATION_CREATED"]
            )
            for e in p.items
        ]
        return every, created

    every, created = with_client(srv, work)
    assert every and created
    assert {e["eventName"] for e in created} == {"JOB_APPLICATION_CREATED"}
    assert len(created) == sum(e["eventName"] == "JOB_APPLICATION_CREATED" for e in every)
    dates = [e["eventDate"] for e in every]
    assert dates == sorted(dates)


# the newer APIs -----------------------------------------------------------------------------


def test_configuration_lists(srv: ThreadServer) -> None:
    async def work(sr: SmartRecruitersClient) -> dict[str, list[Any]]:
        c = sr.configuration
        return {
            "departments": await c.departments(),
            "sources": await c.sources(),
            "hiring_processes": await c.hiring_processes(),
            "rejection_reasons": await c.rejection_reasons(),
            "withdrawal_reasons": await c.withdrawal_reasons(),
            "candidate_properties": await c.candidate_properties(),
            "job_properties": await c.job_properties(),
        }

    got = with_client(srv, work)
    assert got["departments"] and got["hiring_processes"]
    assert all(isinstance(v, list) for v in got.values())


def tenant_ids(srv: ThreadServer) -> tuple[list[str], list[str], str]:
    """(approval request ids, user ids, company id) straight from the sandbox's tenant (the
    oracle)."""
    t = srv.sandbox.tenant
    return list(t.approvals), [u["id"] for u in t.users], str(t.company_id)


def test_approvals(srv: ThreadServer) -> None:
    bases, users, _ = tenant_ids(srv)
    assert bases and users, "the generated tenant has approval requests and users"
    jid, approver = bases[0], users[0]

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        created = await sr.approvals.create(
            {
                "baseId": jid,
                "type": "sequential",
                "decisionMode": "any",
                "steps": [{"approvers": [{"id": approver}]}],
            }
        )
        aid = created["id"]
        await sr.approvals.approve(aid, approver)
        return {
            "got": await sr.approvals.get(aid),
            "comments": await sr.approvals.comments(aid),
        }

    got = with_client(srv, work)
    assert got["got"]["status"] == "APPROVED" and isinstance(got["comments"], list)


def test_approval_rejection(srv: ThreadServer) -> None:
    bases, users, _ = tenant_ids(srv)
    assert len(bases) >= 2 and users, "the generated tenant has approval requests and users"
    jid, approver = bases[-1], users[0]

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        created = await sr.approvals.create(
            {
                "baseId": jid,
                "type": "sequential",
                "decisionMode": "any",
                "steps": [{"approvers": [{"id": approver}]}],
            }
        )
        await sr.approvals.reject(created["id"], approver, "over budget")
        return await sr.approvals.get(created["id"])

    assert with_client(srv, work)["status"] == "REJECTED"


def test_interviews(srv: ThreadServer, truth: dict[str, Any]) -> None:
    app = an_application(truth, status="INTERVIEW")
    users = tenant_ids(srv)[1] or ["user-1"]
    user = users[0]

    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        out: dict[str, Any] = {"before": await sr.interviews.list(app["id"])}
        await sr.interviews.add_types(["Pair programming"])
        created = await sr.interviews.create(
            {
                "candidate": {"id": app["candidateId"]},
                "jobId": app["jobId"],
                "organizerId": user,
                "timezone": "Europe/Berlin",
                "timeslots": [
                    {
                        "startsOn": "2027-01-10T10:00:00.000Z",
                        "endsOn": "2027-01-10T11:00:00.000Z",
                        "interviewers": [{"id": user, "status": "pending"}],
                        "interviewType": "Pair programming",
                    }
                ],
            }
        )
        iid = created["id"]
        more = await sr.interviews.add_timeslots(
            iid,
            {
                "startsOn": "2027-01-11T10:00:00.000Z",
                "endsOn": "2027-01-11T11:00:00.000Z",
                "interviewers": [{"id": user, "status": "pending"}],
            },
        )
        tid = (created.get("timeslots") or [more])[0]["id"]
        out["slot"] = await sr.interviews.timeslot(iid, tid)
        await sr.interviews.set_candidate_status(iid, tid, "accepted")
        await sr.interviews.set_interviewer_status(iid, tid, user, "accepted")
        await sr.interviews.set_no_show(iid, tid)
        out["after"] = await sr.interviews.list(app["id"])
        await sr.interviews.delete(iid)
        await sr.interviews.delete_type("Pair programming")
        return out

    got = with_client(srv, work)
    assert len(got["after"]) == len(got["before"]) + 1 and got["slot"]["id"]


def test_messages(srv: ThreadServer, truth: dict[str, Any]) -> None:
    cid = next(iter(truth["candidates"]))

    async def work(sr: SmartRecruitersClient) -> tuple[list[Any], dict[str, Any]]:
        shared = await sr.messages.share("Hello from syncd", share_with={"everyone": True})
        got = [m async for p in sr.messages.pages(cid) for m in p.items]
        await sr.messages.delete_share(shared["id"])
        return got, shared

    got, shared = with_client(srv, work)
    assert shared["id"] and isinstance(got, list)


def test_assessments(srv: ThreadServer, truth: dict[str, Any]) -> None:
    app = an_application(truth)

    async def work(sr: SmartRecruitersClient) -> list[Any]:
        orders = await sr.assessments.orders(app["id"])
        await sr.assessments.set_partner_configuration(
            {
                "consentUrl": "https://partner.example/consent",
                "consentDisplayMode": "REDIRECT",
                "assessmentPackageListUrl": "https://partner.example/packages",
                "singleAssessmentPackageUrl": "https://partner.example/packages/{id}",
                "oauthTokenUrl": "https://partner.example/token",
                "supportedAssessmentTypes": ["SKILL_TEST"],
            }
        )
        if orders:
            oid = orders[0]["id"]
            await sr.assessments.set_results(
                oid, {"status": "COMPLETED", "score": {"raw": 5, "min": 0, "max": 10}}
            )
            await sr.assessments.add_results_attachment(oid, ("r.pdf", b"%PDF", "application/pdf"))
        return orders

    assert isinstance(with_client(srv, work), list)


def test_assessment_company_integration(srv: ThreadServer) -> None:
    # the sandbox's tenant: one more company has consented but is not integrated yet
    company = tenant_ids(srv)[2] + "Partner"

    async def work(sr: SmartRecruitersClient) -> Any:
        return await sr.assessments.integrate_company(
            company, {"clientId": "partner-client", "clientSecret": "partner-secret"}
        )

    assert with_client(srv, work) is not None


def test_webhook_subscriptions(srv: ThreadServer) -> None:
    async def work(sr: SmartRecruitersClient) -> dict[str, Any]:
        sub = await sr.webhooks.create(
            "http://127.0.0.1:9/hook", ["candidate.created", "job.updated"]
        )
        sid = sub["id"]
        out = {
            "sub": sub,
            "listed": [s["id"] async for p in sr.webhooks.pages(limit=1) for s in p.items],
            "got": await sr.webhooks.get(sid),
            "key": await sr.webhooks.generate_secret_key(sid),
            "key2": await sr.webhooks.secret_key(sid),
            "log": [e async for p in sr.webhooks.callbacks_log(sid) for e in p.items],
        }
        try:  # nothing listens at the callback URL, so the handshake may fail
            await sr.webhooks.activate(sid)
        except HttpError as exc:
            out["activation"] = exc.status
        await sr.webhooks.delete(sid)
        with pytest.raises(NotFoundError):
            await sr.webhooks.get(sid)
        return out

    got = with_client(srv, work)
    assert (
        got["sub"]["id"] in got["listed"] and got["got"]["callbackUrl"] == "http://127.0.0.1:9/hook"
    )
    assert got["key"] and isinstance(got["log"], list)


# credentials --------------------------------------------------------------------------------


def test_oauth_client_works_like_the_api_key(srv: ThreadServer) -> None:
    async def go() -> tuple[int, int]:
        s = settings_for(srv, api_key=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        async with SmartRecruitersClient(s) as sr:
            n = sum([len(p.items) async for p in sr.jobs.pages()])
            return n, sr.token_calls

    n, tokens = asyncio.run(go())
    assert n == len(snapshot(srv, "jobs")) and tokens == 1


def test_missing_scope_is_named(srv: ThreadServer) -> None:
    httpx.post(
        f"{srv.base_url}/_sandbox/credentials",
        json={"apiKey": "jobs-only-key", "scopes": ["jobs_read"]},
    ).raise_for_status()

    async def go() -> PermissionDeniedError:
        async with SmartRecruitersClient(settings_for(srv, api_key="jobs-only-key")) as sr:
            await sr.jobs.get(next(iter(snapshot(srv, "jobs"))))  # allowed
            with pytest.raises(PermissionDeniedError) as exc:
                await sr.webhooks.create("http://127.0.0.1:9/x", ["job.created"])
            return exc.value

    err = asyncio.run(go())
    assert "webhooks_manage" in str(err) and "jobs-only-key" not in str(err)
