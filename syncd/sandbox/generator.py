"""A deterministic tenant from a seed: same seed, same anchor time, same tenant.

Status histories follow the status machine (LEAD → NEW → IN_REVIEW → INTERVIEW → OFFERED → HIRED,
with REJECTED or WITHDRAWN possible from any open stage), and every generated change leaves the
audit event that the live tenant would have written. Kept fast enough for 100k candidates in well
under a minute: plain dicts, one RNG, no per-record formatting beyond the timestamps.
"""

from __future__ import annotations

import itertools
from typing import Any

from syncd.sandbox.clock import Clock
from syncd.sandbox.generator_extras import generate_extras
from syncd.sandbox.state import JOB_STATUSES, Tenant, new_id
from syncd.sandbox.timefmt import iso

FIRST = [
    "Ada",
    "Alan",
    "Amara",
    "Anya",
    "Aria",
    "Ben",
    "Bruno",
    "Carla",
    "Chen",
    "Dana",
    "Diego",
    "Elena",
    "Emil",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jada",
    "Jonas",
    "Kai",
    "Keiko",
    "Lara",
    "Leo",
    "Lina",
    "Luca",
    "Maya",
    "Mateo",
    "Mina",
    "Nadia",
    "Noah",
    "Omar",
    "Olga",
    "Pia",
    "Priya",
    "Quinn",
    "Rafael",
    "Rosa",
    "Sami",
    "Sara",
    "Tariq",
    "Tess",
    "Uma",
    "Victor",
    "Wen",
    "Xena",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adams",
    "Bauer",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Vogel",
    "Wagner",
    "Walsh",
    "Weber",
    "Wong",
    "Yilmaz",
    "Zhang",
]
TITLES = (
    "Software Engineer",
    "Senior Backend Engineer",
    "Data Analyst",
    "Product Manager",
    "UX Designer",
    "Account Executive",
    "Customer Success Manager",
    "HR Business Partner",
    "Financial Controller",
    "Warehouse Associate",
    "Store Manager",
    "Nurse",
    "Recruiter",
    "DevOps Engineer",
    "Marketing Specialist",
)
CITIES = (
    ("Berlin", "Germany", "de", "BE"),
    ("Paris", "France", "fr", "IDF"),
    ("London", "United Kingdom", "gb", "ENG"),
    ("New York", "United States", "us", "NY"),
    ("San Francisco", "United States", "us", "CA"),
    ("Krakow", "Poland", "pl", "MA"),
    ("Madrid", "Spain", "es", "MD"),
    ("Toronto", "Canada", "ca", "ON"),
)
DEPARTMENTS = ("Engineering", "Product", "Sales", "Marketing", "People", "Finance", "Operations")
INDUSTRIES = ("Computer Software", "Retail", "Hospital & Health Care", "Financial Services")
FUNCTIONS = ("Engineering", "Sales", "Marketing", "Human Resources", "Finance", "Operations")
EMPLOYMENT = ("Full-time", "Part-time", "Contract", "Internship")
EXPERIENCE = ("Entry level", "Associate", "Mid-Senior level", "Director")
SOURCE_TYPES = {
    "JOB_BOARDS": ("LinkedIn", "Indeed", "StepStone", "Glassdoor"),
    "REFERRALS": ("Employee Referral",),
    "AGENCIES": ("Talent Partners Ltd",),
    "SOCIAL_MEDIA": ("Twitter", "Facebook"),
    "OTHER": ("Career Site", "Job Fair"),
}
# The spec gives every source type at least one sub-type; a sub-type must be named only where a
# type has several (SUBTYPE_REQUIRED).
SOURCE_SUBTYPES = {
    "JOB_BOARDS": ("general",),
    "REFERRALS": ("employee",),
    "AGENCIES": ("agency",),
    "SOCIAL_MEDIA": ("organic", "paid"),
    "OTHER": ("other",),
}
SUB_STATUSES = {
    "LEAD": (None,),
    "NEW": (None,),
    "IN_REVIEW": ("Screening", "Hiring Manager Review"),
    "INTERVIEW": ("Phone Screen", "Onsite", "Final Interview"),
    "OFFERED": ("Offer Sent", None),
    "HIRED": (None,),
    "REJECTED": (None,),
    "WITHDRAWN": (None,),
    "TRANSFERRED": (None,),
}
REJECTION_REASONS = ("Not qualified", "Position filled", "Salary expectations", "No show")
WITHDRAWAL_REASONS = ("Accepted another offer", "Lost interest", "Relocation")
PIPELINE = ("NEW", "IN_REVIEW", "INTERVIEW", "OFFERED", "HIRED")
# Where generated applications stop: (final status, weight). Open stages dominate a live tenant.
OUTCOMES = (
    ("LEAD", 2),
    ("NEW", 14),
    ("IN_REVIEW", 18),
    ("INTERVIEW", 14),
    ("OFFERED", 5),
    ("HIRED", 9),
    ("REJECTED", 30),
    ("WITHDRAWN", 6),
    ("TRANSFERRED", 2),
)
DAY = 86400.0


def _config(t: Tenant) -> None:
    rng = t.rng
    t.users = [
        {
            # SmartRecruiters user ids are 24 hex digits, unlike the UUIDs of other objects.
            "id": f"{rng.getrandbits(96):024x}",
            "firstName": rng.choice(FIRST),
            "lastName": rng.choice(LAST),
            "email": f"user{i}@sandbox.example",
            "role": "ADMINISTRATOR" if i == 0 else "EMPLOYEE",
        }
        for i in range(12)
    ]
    t.config["departments"] = [
        {"id": str(1000 + i), "label": label} for i, label in enumerate(DEPARTMENTS)
    ]
    t.config["source_types"] = [
        {
            "id": st,
            "label": st.replace("_", " ").title(),
            "sourceSubTypes": [{"id": sub, "label": sub.title()} for sub in SOURCE_SUBTYPES[st]],
        }
        for st in SOURCE_TYPES
    ]
    # Each value belongs to one sub-type; types with several sub-types spread values over them.
    t.config["source_values"] = [
        {
            "id": f"{st.lower()}-{i}",
            "label": label,
            "sourceTypeId": st,
            "sourceSubTypeId": SOURCE_SUBTYPES[st][i % len(SOURCE_SUBTYPES[st])],
        }
        for st, labels in SOURCE_TYPES.items()
        for i, label in enumerate(labels)
    ]
    t.config["hiring_processes"] = [
        {
            "id": "default",
            "name": "Default hiring process",
            "default": True,
            "subStatuses": {s: [x for x in subs if x] for s, subs in SUB_STATUSES.items()},
        }
    ]
    t.config["rejection_reasons"] = [
        {"id": f"rej-{i}", "label": r} for i, r in enumerate(REJECTION_REASONS)
    ]
    t.config["withdrawal_reasons"] = [
        {"id": f"wd-{i}", "label": r} for i, r in enumerate(WITHDRAWAL_REASONS)
    ]
    t.config["candidate_properties"] = [
        {"id": "cp-notice", "label": "Notice period", "type": "SINGLE_SELECT"},
        {"id": "cp-salary", "label": "Expected salary", "type": "CURRENCY"},
    ]
    t.config["job_properties"] = [
        {
            "id": "jp-cost-center",
            "label": "Cost center",
            "type": "SINGLE_SELECT",
            "enabled": True,
            "values": [{"id": f"cc-{i}", "label": f"CC-{100 + i}"} for i in range(5)],
        },
    ]
    t.interview_types = ["Phone screen", "Technical", "Onsite", "Culture fit"]


def _job(t: Tenant, i: int, anchor: float) -> None:
    rng = t.rng
    created = anchor - rng.uniform(30, 400) * DAY
    city, country, cc, region = rng.choice(CITIES)
    dep = rng.choice(t.config["departments"])
    creator = rng.choice(t.users)
    job_id = new_id(rng)
    status = rng.choices(JOB_STATUSES, (2, 12, 3, 2, 1, 1, 1))[0]
    history_times = sorted(rng.uniform(created, anchor - DAY) for _ in range(2))
    title = rng.choice(TITLES)
    job = {
        "id": job_id,
        "title": title,
        "refNumber": f"REF{1000 + i}",
        "createdOn": iso(created),
        "updatedOn": iso(history_times[-1]),
        "lastActivityOn": iso(history_times[-1]),
        "department": {"id": dep["id"], "label": dep["label"]},
        "location": {
            "city": city,
            "country": country,
            "countryCode": cc,
            "regionCode": region,
            "remote": rng.random() < 0.2,
        },
        "status": status,
        "postingStatus": rng.choices(("PUBLIC", "INTERNAL", "NOT_PUBLISHED"), (6, 1, 2))[0],
        "targetHiringDate": iso(anchor + rng.uniform(10, 120) * DAY),
        "industry": {
            "id": "ind-" + str(rng.randrange(len(INDUSTRIES))),
            "label": rng.choice(INDUSTRIES),
        },
        "function": {
            "id": "fn-" + str(rng.randrange(len(FUNCTIONS))),
            "label": rng.choice(FUNCTIONS),
        },
        "typeOfEmployment": {"id": "emp-0", "label": rng.choice(EMPLOYMENT)},
        "experienceLevel": {"id": "exp-0", "label": rng.choice(EXPERIENCE)},
        "eeoCategory": {"id": "eeo-0", "label": "Professionals"},
        "template": False,
        "creator": {
            "id": creator["id"],
            "firstName": creator["firstName"],
            "lastName": creator["lastName"],
        },
        "compensation": {
            "min": 40000 + 1000 * rng.randrange(40),
            "max": 90000 + 1000 * rng.randrange(60),
            "currency": "EUR",
        },
        "jobAd": {
            "sections": {
                "companyDescription": {"title": "Company Description", "text": "We build things."},
                "jobDescription": {"title": "Job Description", "text": f"Join us as {title}."},
                "qualifications": {"title": "Qualifications", "text": "Curiosity."},
                "additionalInformation": {"title": "Additional Information", "text": ""},
            }
        },
        "properties": [],
        "language": {"code": "en", "label": "English", "labelNative": "English (US)"},
    }
    t.jobs[job_id] = job
    t.job_order.append(job_id)
    t.job_history[job_id] = [
        {"changedOn": iso(created), "status": "CREATED"},
        {"changedOn": iso(history_times[-1]), "status": status},
    ]
    t.positions[job_id] = {}
    for _ in range(rng.randint(1, 3)):
        pid = new_id(rng)
        t.positions[job_id][pid] = {
            "id": pid,
            "positionId": f"POS-{rng.randrange(100000):05d}",
            "type": rng.choice(("NEW", "REPLACEMENT")),
            # date-time, as the Jobs API's Position schema has it (not a bare date)
            "positionOpenDate": iso(created),
            "targetStartDate": iso(anchor + rng.uniform(20, 120) * DAY),
            "createdOn": iso(created),
            "status": "OPEN",
        }
    team = rng.sample(t.users, 3)
    roles = ("HIRING_MANAGER", "RECRUITER", "INTERVIEW_TEAM")
    t.hiring_team[job_id] = [
        {"id": u["id"], "firstName": u["firstName"], "lastName": u["lastName"], "role": r}
        for u, r in zip(team, roles, strict=True)
    ]
    ad_id = new_id(rng)
    t.job_ads[job_id] = {
        ad_id: {
            "id": ad_id,
            "title": title,
            "language": job["language"],
            "location": job["location"],
            "jobAd": job["jobAd"],
            "createdOn": job["createdOn"],
            "updatedOn": job["updatedOn"],
            "postingStatus": job["postingStatus"],
            "defaultJobAd": True,
            "visibility": "PUBLIC",
            "creator": job["creator"],
        }
    }
    t.job_notes[job_id] = f"Internal note for {title} ({job['refNumber']})."


def _path_to(final: str, rng: Any) -> list[str]:
    if final == "LEAD":
        return ["LEAD"]
    start = ["LEAD", "NEW"] if rng.random() < 0.05 else ["NEW"]
    if final in PIPELINE:
        return start + list(PIPELINE[1 : PIPELINE.index(final) + 1])
    stop = rng.randrange(len(PIPELINE) - 1)  # leave from NEW .. OFFERED
    return start + list(PIPELINE[1 : stop + 1]) + [final]


def generate(
    seed: int = 7,
    jobs: int = 50,
    candidates: int = 2000,
    *,
    clock: Clock | None = None,
    anchor: float | None = None,
) -> Tenant:
    clock = clock or Clock()
    t = Tenant(seed=seed, clock=clock)
    rng = t.rng
    anchor = clock.now() if anchor is None else anchor
    _config(t)
    for i in range(jobs):
        _job(t, i, anchor)
    job_list = list(t.jobs.values())
    job_created = {j["id"]: j["createdOn"] for j in job_list}
    sources = t.config["source_values"]
    outcomes = [o for o, _ in OUTCOMES]
    weights = list(itertools.accumulate(w for _, w in OUTCOMES))
    events: list[tuple[str, str, str, Any, dict[str, Any]]] = []
    consent = ("REQUIRED", "PENDING", "ACQUIRED")
    for n in range(candidates):
        cid = new_id(rng)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country, cc, region = rng.choice(CITIES)
        n_apps = rng.choices((1, 2, 3), (45, 35, 20))[0] if job_list else 0
        picked = rng.sample(job_list, min(n_apps, len(job_list)))
        cand_created = anchor - rng.uniform(1, 360) * DAY
        cand = {
            "id": cid,
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
            "phoneNumber": f"+1555{rng.randrange(10**7):07d}",
            "location": {"city": city, "country": country, "countryCode": cc, "regionCode": region},
            "web": {"linkedin": f"https://linkedin.example/in/{first.lower()}{n}"},
            "tags": rng.sample(
                ("python", "remote", "senior", "referral", "relocation"), rng.randrange(3)
            ),
            "education": [],
            "experience": [],
            "internal": rng.random() < 0.05,
            "consent": {"status": rng.choice(consent)},
            "applicationLanguage": "en",
            "createdOn": iso(cand_created),
            "updatedOn": iso(cand_created),
        }
        t.candidates[cid] = cand
        t.candidate_order.append(cid)
        app_ids: list[str] = []
        for job in picked:
            final = rng.choices(outcomes, cum_weights=weights)[0]
            path = _path_to(final, rng)
            ts = cand_created + rng.uniform(0, 0.02) * DAY
            if iso(ts) < job_created[job["id"]]:
                ts = anchor - rng.uniform(1, 20) * DAY
            src = rng.choice(sources)
            app_id = new_id(rng)
            history = []
            prev: tuple[str, str | None] | None = None
            for status in path:
                sub = rng.choice(SUB_STATUSES[status])
                when = iso(ts)
                history.append({"changedOn": when, "status": status, "subStatus": sub})
                if prev is None:
                    events.append(
                        (
                            "JOB_APPLICATION_CREATED",
                            "APPLICATION",
                            app_id,
                            when,
                            {"candidateId": cid, "jobId": job["id"], "status": status},
                        )
                    )
                else:
                    events.append(
                        (
                            "JOB_APPLICATION_STATE_MODIFIED",
                            "APPLICATION",
                            app_id,
                            when,
                            {
                                "candidateId": cid,
                                "jobId": job["id"],
                                "previousStatus": {"status": prev[0], "subStatus": prev[1]},
                                "currentStatus": {"status": status, "subStatus": sub},
                            },
                        )
                    )
                prev = (status, sub)
                # Steps forward, never past the anchor: a history is in time order.
                ts = min(ts + rng.uniform(0.2, 12) * DAY, anchor - 1)
            changed = history[-1]["changedOn"]
            app: dict[str, Any] = {
                "id": app_id,
                "candidateId": cid,
                "jobId": job["id"],
                "status": final,
                "subStatus": history[-1]["subStatus"],
                "createdOn": history[0]["changedOn"],
                "updatedOn": changed,
                "source": {"sourceTypeId": src["sourceTypeId"], "sourceId": src["id"]},
            }
            if final == "REJECTED":
                r = rng.choice(t.config["rejection_reasons"])
                app["reasonOfRejection"] = {"id": r["id"], "label": r["label"]}
            elif final == "WITHDRAWN":
                r = rng.choice(t.config["withdrawal_reasons"])
                app["reasonOfWithdrawal"] = {"id": r["id"], "label": r["label"]}
            if final == "HIRED":
                app["startsOn"] = iso(anchor + rng.uniform(5, 60) * DAY)
                app["onboardingStatus"] = rng.choice(("READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"))
            t.applications[app_id] = app
            t.app_by_pair[(cid, job["id"])] = app_id
            t.app_history[app_id] = history
            app_ids.append(app_id)
            if "OFFERED" in path:
                offer_status = {
                    "OFFERED": rng.choice(
                        ("CREATED", "PENDING_APPROVAL", "APPROVED", "PENDING_ACCEPTANCE")
                    ),
                    "HIRED": "ACCEPTED",
                }.get(final, rng.choice(("NOT_ACCEPTED", "ABANDONED")))
                offered_at = history[path.index("OFFERED")]["changedOn"]
                oid = new_id(rng)
                t.offers[oid] = {
                    "id": oid,
                    "candidateId": cid,
                    "jobId": job["id"],
                    "applicationId": app_id,
                    "status": offer_status,
                    "createdOn": offered_at,
                    "updatedOn": changed
                    if offer_status in ("ACCEPTED", "NOT_ACCEPTED", "ABANDONED")
                    else offered_at,
                    "properties": {
                        "salary": str(50000 + 1000 * rng.randrange(80)),
                        "currency": "EUR",
                    },
                }
                t.offers_of_app[app_id] = [oid]
                events.append(
                    (
                        "OFFER_CREATED",
                        "OFFER",
                        oid,
                        offered_at,
                        {"candidateId": cid, "jobId": job["id"], "status": "CREATED"},
                    )
                )
                if offer_status == "ACCEPTED":
                    events.append(
                        (
                            "OFFER_ACCEPTED",
                            "OFFER",
                            oid,
                            changed,
                            {"candidateId": cid, "jobId": job["id"], "status": "ACCEPTED"},
                        )
                    )
        t.apps_of_candidate[cid] = app_ids
        if app_ids:
            apps = [t.applications[a] for a in app_ids]
            cand["createdOn"] = min(cand["createdOn"], *(a["createdOn"] for a in apps))
            cand["updatedOn"] = max(a["updatedOn"] for a in apps)
    # Offers are listed in creation order, as the API does.
    for oid in sorted(t.offers, key=lambda o: (t.offers[o]["createdOn"], o)):
        t.offer_order.append(oid)
    events.sort(key=lambda e: e[3])
    for name, etype, eid, when, ctx in events:
        t.record_audit(name, etype, eid, ctx, at=when)
    generate_extras(t, anchor)
    return t
