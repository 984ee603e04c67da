"""The ``report_*`` views on a mirror that a real backfill (over HTTP, from the sandbox) filled,
then an incremental pass after a candidate was deleted, on SQLite and PostgreSQL: every view's
rows, counts, rates and durations equal what the sandbox's own snapshot implies."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from syncd.cli import main
from syncd.mirror.dictionary import descriptions, report_views
from syncd.mirror.records import parse_ts
from syncd.mirror.reporting import view_rows
from syncd.mirror.store import utcnow
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.routes.render import _source_label
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.test_mirror_sync import (
    TENANT,
    control,
    run_pass,
    settings_for,
    snapshot,
)

STATUSES = [
    "LEAD",
    "NEW",
    "IN_REVIEW",
    "INTERVIEW",
    "OFFERED",
    "HIRED",
    "REJECTED",
    "WITHDRAWN",
    "TRANSFERRED",
]
FUNNEL = ["NEW", "IN_REVIEW", "INTERVIEW", "OFFERED", "HIRED"]
DETAILS = ("OFFERED", "HIRED")  # the statuses whose details (source, onboarding) a pass reads
DAY = 86400.0


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=120, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / DAY


def pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def close(got: float | None, want: float | None, tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= tol


# Rounded to one decimal by the database: within half a step of the exact value.
ROUNDED = 0.05 + 1e-9


class Truth:
    """What the sandbox's snapshot says each view must hold."""

    def __init__(self, srv: ThreadServer) -> None:
        snap = snapshot(srv)
        t = srv.sandbox.tenant
        self.jobs: dict[str, Any] = snap["jobs"]
        self.cands: dict[str, Any] = snap["candidates"]
        self.offers = list(snap["offers"].values())
        self.apps: dict[tuple[str, str], dict[str, Any]] = {}
        for a in snap["applications"].values():
            hist = [(parse_ts(h["changedOn"]), h["status"]) for h in a["history"]]
            ranks = [FUNNEL.index(s) + 1 for _, s in hist if s in FUNNEL]
            if a["status"] in FUNNEL:
                ranks.append(FUNNEL.index(a["status"]) + 1)
            hired = [when for when, s in hist if s == "HIRED"]
            details = a["status"] in DETAILS
            self.apps[(a["candidateId"], a["jobId"])] = {
                "raw": a,
                "history": hist,
                "furthest": max(ranks) if ranks else None,
                "hired_on": hired[0] if hired else None,
                "source": _source_label(t, a["source"]) if details else None,
                "details": details,
            }

    def application(self, key: tuple[str, str]) -> dict[str, Any]:
        x = self.apps[key]
        a, job, cand = x["raw"], self.jobs[key[1]], self.cands[key[0]]
        loc = job["location"]
        return {
            "tenant": TENANT,
            "candidate_id": key[0],
            "job_id": key[1],
            "application_id": a["id"],
            "candidate_name": f"{cand['firstName']} {cand['lastName']}",
            "job_title": job["title"],
            "job_ref_number": job["refNumber"],
            "department": job["department"]["label"],
            "job_location": f"{loc['city']}, {loc['countryCode']}",
            "status": a["status"],
            "sub_status": a.get("subStatus"),
            "stage_order": STATUSES.index(a["status"]),
            "furthest_stage_order": x["furthest"],
            "source": x["source"],
            "source_type_id": a["source"]["sourceTypeId"] if x["details"] else None,
            "applied_on": parse_ts(a["createdOn"]),
            "last_changed_on": max(when for when, _ in x["history"]),
            "hired_on": x["hired_on"],
            "starts_on": parse_ts(a.get("startsOn")) if x["details"] else None,
            "onboarding_status": a.get("onboardingStatus") if x["details"] else None,
            "deleted_on": None,
        }

    def stays(self) -> list[tuple[Any, ...]]:
        out = []
        for (cid, jid), x in self.apps.items():
            entries = []
            for when, status in x["history"]:
                if not entries or entries[-1][1] != status:
                    entries.append((when, status))
            for i, (when, status) in enumerate(entries):
                left = entries[i + 1][0] if i + 1 < len(entries) else None
                out.append((cid, jid, status, when, left))
        return sorted(out, key=lambda s: (s[0], s[1], s[3]))

    def funnel(self, keys: list[tuple[str, str]]) -> list[tuple[str, int, float | None, float]]:
        reached = [
            sum(1 for k in keys if (self.apps[k]["furthest"] or 0) >= r)
            for r in range(1, len(FUNNEL) + 1)
        ]
        return [
            (
                stage,
                reached[i],
                None if i == 0 else pct(reached[i], reached[i - 1]),
                pct(reached[i], reached[0]) or 0.0,
            )
            for i, stage in enumerate(FUNNEL)
        ]


def assert_funnel(rows: list[dict[str, Any]], want: list[Any]) -> None:
    assert [(r["stage_order"], r["stage"], r["reached"]) for r in rows] == [
        (i, w[0], w[1]) for i, w in enumerate(want, 1)
    ]
    for r, w in zip(rows, want, strict=True):
        assert close(r["conversion_pct"], w[2], ROUNDED), (r, w)
        assert close(r["of_applied_pct"], w[3], ROUNDED), (r, w)


def test_views_equal_the_sandbox(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    # A deleted candidate with a hire: its applications stay in report_applications without a
    # name, and leave every aggregate.
    first = snapshot(tenant)["applications"].values()
    gone = sorted(a["candidateId"] for a in first if a["status"] == "HIRED")[0]
    gone_apps = sorted(a["jobId"] for a in first if a["candidateId"] == gone)
    control(tenant, f"candidates/{gone}/delete")
    run_pass(st, db, "incremental")
    truth = Truth(tenant)
    assert gone not in truth.cands

    # report_deliveries needs a push: tests/integration/test_push_delivery.py checks it.
    names = [n for n in report_views() if n != "report_deliveries"]
    with db.connect() as conn:
        got = {name: view_rows(conn, name, TENANT) for name in names}
        assert all(view_rows(conn, name, "another-tenant") == [] for name in names)
    now = utcnow()  # naive UTC, like the mirror
    for name, rows in got.items():
        assert rows, f"{name} is empty"

    # report_applications: every application, the deleted candidate's without a name.
    apps = {(r["candidate_id"], r["job_id"]): r for r in got["report_applications"]}
    deleted = {k: r for k, r in apps.items() if r["deleted_on"] is not None}
    assert sorted(deleted) == [(gone, j) for j in gone_apps]
    for r in deleted.values():
        assert r["candidate_name"] is None and r["status"] and r["job_title"], r
    live = {k: r for k, r in apps.items() if r["deleted_on"] is None}
    assert sorted(live) == sorted(truth.apps)
    wrong = [(k, r, truth.application(k)) for k, r in live.items() if r != truth.application(k)]
    assert not wrong, wrong[:2]

    # report_pipeline: live applications per job and status.
    want_pipeline = Counter((k[1], x["raw"]["status"]) for k, x in truth.apps.items())
    assert {(r["job_id"], r["status"]): r["applications"] for r in got["report_pipeline"]} == (
        dict(want_pipeline)
    )
    for r in got["report_pipeline"]:
        assert r["job_title"] == truth.jobs[r["job_id"]]["title"]
        assert r["stage_order"] == STATUSES.index(r["status"])

    # The funnel, overall and per job.
    assert_funnel(got["report_funnel"], truth.funnel(list(truth.apps)))
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in got["report_funnel_by_job"]:
        by_job[r["job_id"]].append(r)
    assert set(by_job) == {k[1] for k in truth.apps}
    for job_id, rows in by_job.items():
        assert_funnel(rows, truth.funnel([k for k in truth.apps if k[1] == job_id]))

    # Time in each stage, from the status histories.
    stays = truth.stays()
    got_stays = got["report_stage_stays"]
    assert [
        (r["candidate_id"], r["job_id"], r["stage"], r["entered_on"], r["left_on"])
        for r in got_stays
    ] == stays
    for r in got_stays:
        want = days(r["entered_on"], r["left_on"]) if r["left_on"] else None
        assert close(r["days_in_stage"], want, 1e-6), r
    per_stage: dict[str, list[float | None]] = defaultdict(list)
    for s in stays:
        per_stage[s[2]].append(days(s[3], s[4]) if s[4] else None)
    tis = {r["stage"]: r for r in got["report_time_in_stage"]}
    assert set(tis) == set(per_stage)
    for stage, spans in per_stage.items():
        done = [d for d in spans if d is not None]
        r = tis[stage]
        assert (r["completed_stays"], r["current_stays"]) == (len(done), len(spans) - len(done))
        assert r["stage_order"] == STATUSES.index(stage)
        if done:
            assert close(r["avg_days"], sum(done) / len(done), ROUNDED), r
            assert close(r["min_days"], min(done), ROUNDED), r
            assert close(r["max_days"], max(done), ROUNDED), r
        else:
            assert r["avg_days"] is None, r

    # Hires and time to hire.
    hired = {k: x for k, x in truth.apps.items() if x["raw"]["status"] == "HIRED"}
    hires = {(r["candidate_id"], r["job_id"]): r for r in got["report_hires"]}
    assert sorted(hires) == sorted(hired)
    for k, r in hires.items():
        x = hired[k]
        applied = parse_ts(x["raw"]["createdOn"])
        assert applied is not None
        assert (r["applied_on"], r["hired_on"], r["source"]) == (
            applied,
            x["hired_on"],
            x["source"],
        )
        assert close(r["days_to_hire"], days(applied, x["hired_on"]), 1e-6), r
        assert r["hired_month"] == x["hired_on"].strftime("%Y-%m")
        assert r["onboarding_status"] == x["raw"]["onboardingStatus"]
        assert r["starts_on"] == parse_ts(x["raw"]["startsOn"])
    spans = [days(parse_ts(x["raw"]["createdOn"]), x["hired_on"]) for x in hired.values()]  # type: ignore[arg-type]
    ((tth),) = got["report_time_to_hire"]
    assert tth["hires"] == len(hired)
    assert close(tth["avg_days"], sum(spans) / len(spans), ROUNDED)
    assert close(tth["min_days"], min(spans), ROUNDED)
    assert close(tth["max_days"], max(spans), ROUNDED)

    # Offer acceptance.
    statuses = Counter(o["status"] for o in truth.offers)
    ((oa),) = got["report_offer_acceptance"]
    decided = statuses["ACCEPTED"] + statuses["NOT_ACCEPTED"]
    assert oa == {
        "tenant": TENANT,
        "offers": len(truth.offers),
        "open_offers": sum(
            statuses[s] for s in ("CREATED", "PENDING_APPROVAL", "APPROVED", "PENDING_ACCEPTANCE")
        ),
        "accepted": statuses["ACCEPTED"],
        "not_accepted": statuses["NOT_ACCEPTED"],
        "abandoned": statuses["ABANDONED"],
        "not_approved": statuses["NOT_APPROVED"],
        "decided": decided,
        "acceptance_pct": oa["acceptance_pct"],
    }
    assert close(oa["acceptance_pct"], pct(statuses["ACCEPTED"], decided), ROUNDED)

    # Sources: known for the applications whose details were read (OFFERED, HIRED).
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for x in truth.apps.values():
        by_source[x["source"] or "(unknown)"].append(x)
    src = {r["source"]: r for r in got["report_sources"]}
    assert set(src) == set(by_source)
    for name, xs in by_source.items():
        r = src[name]
        h = [x for x in xs if x["raw"]["status"] == "HIRED"]
        assert r["applications"] == len(xs)
        assert r["reached_interview"] == sum(1 for x in xs if (x["furthest"] or 0) >= 3)
        assert r["hires"] == len(h)
        assert close(r["hire_pct"], pct(len(h), len(xs)), ROUNDED)
        onboarding = Counter(x["raw"].get("onboardingStatus") for x in h)
        assert r["onboarding_successful"] == onboarding["ONBOARDING_SUCCESSFUL"]
        assert r["onboarding_failed"] == onboarding["ONBOARDING_FAILED"]
        d = [days(parse_ts(x["raw"]["createdOn"]), x["hired_on"]) for x in h]  # type: ignore[arg-type]
        assert close(r["avg_days_to_hire"], sum(d) / len(d) if d else None, ROUNDED), r
    assert sum(r["hires"] for r in src.values()) == len(hired)

    # Open jobs and positions with their age (now: while the test runs; 0.01 day = 14 min).
    open_jobs = {
        j["id"]: j
        for j in truth.jobs.values()
        if j["status"] in ("SOURCING", "INTERVIEW", "OFFER", "ON_HOLD")
    }
    oj = {r["job_id"]: r for r in got["report_open_jobs"]}
    assert set(oj) == set(open_jobs)
    for jid, j in open_jobs.items():
        r = oj[jid]
        created = parse_ts(j["createdOn"])
        assert created is not None
        opened = [parse_ts(p["positionOpenDate"]) for p in j["positions"] if p["status"] == "OPEN"]
        assert (r["job_title"], r["status"], r["created_on"]) == (j["title"], j["status"], created)
        assert r["open_positions"] == len(opened)
        assert r["oldest_open_since"] == (min(opened) if opened else None)  # type: ignore[type-var]
        assert close(r["age_days"], days(created, now), 0.01), r
    positions = {
        p["id"]: (j, p)
        for j in truth.jobs.values()
        for p in j["positions"]
        if p["status"] == "OPEN"
    }
    op = {r["id"]: r for r in got["report_open_positions"]}
    assert set(op) == set(positions)
    for pid, (j, p) in positions.items():
        r = op[pid]
        opened_on = parse_ts(p["positionOpenDate"])
        assert opened_on is not None
        assert (r["job_id"], r["position_id"], r["opened_on"]) == (
            j["id"],
            p["positionId"],
            opened_on,
        )
        assert close(r["age_days"], days(opened_on, now), 0.01), r

    # The dictionary's example queries run on both databases and give rows.
    with db.connect() as conn:
        for ex in descriptions()["examples"]:
            rows = conn.execute(text(ex["sql"]), {"tenant": TENANT}).all()
            assert rows, ex["title"]
        per_month = conn.execute(
            text(descriptions()["examples"][1]["sql"]), {"tenant": TENANT}
        ).all()
        assert sum(r[2] for r in per_month) == len(hired)


def test_report_command_formats(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    run_pass(settings_for(tenant, db_url), db, "backfill")
    env = {"SYNCD_DATABASE_URL": db_url, "SYNCD_TENANT": TENANT}

    def cli(*args: str, code: int = 0) -> str:
        r = CliRunner().invoke(main, list(args), env=env)
        assert r.exit_code == code, r.output
        return r.output

    with db.connect() as conn:
        want = view_rows(conn, "report_funnel", TENANT)
    as_json = json.loads(cli("report", "report_funnel", "--format", "json"))
    assert [r["reached"] for r in as_json] == [r["reached"] for r in want]
    assert json.loads(cli("report", "report_funnel", "--json")) == as_json
    rows = list(csv.DictReader(io.StringIO(cli("report", "report_funnel", "--format", "csv"))))
    assert [r["stage"] for r in rows] == FUNNEL
    assert [int(r["reached"]) for r in rows] == [r["reached"] for r in want]
    table = cli("report", "report_funnel")
    assert "stage" in table and "INTERVIEW" in table
    # Dates in one format on both databases.
    hires = json.loads(cli("report", "report_hires", "--format", "json"))
    assert hires and all(len(h["hired_on"]) == 19 and h["hired_on"][10] == " " for h in hires)
    listed = cli("report")
    assert all(v in listed for v in report_views())
    assert "Invalid value for '[NAME]'" in cli("report", "nope", code=2)
    assert "--format" in cli("report", "report_funnel", "--format", "xml", code=2)


def test_view_columns_have_the_dictionary_types(db: Engine) -> None:
    """PostgreSQL declares a type for every view column: it must be the one docs/reporting.md
    gives (SQLite has none for computed columns; there the names are checked)."""
    from sqlalchemy import inspect

    from syncd.mirror.dictionary import views

    kinds = {
        "text": {"VARCHAR", "TEXT"},
        "integer": {"INTEGER", "BIGINT"},
        "decimal": {"NUMERIC", "DOUBLE_PRECISION"},
        "datetime": {"TIMESTAMP"},
    }
    insp = inspect(db)
    for view in views().values():
        found = {c["name"]: type(c["type"]).__name__ for c in insp.get_columns(view.name)}
        assert list(found) == [c.name for c in view.columns], view.name
        if db.dialect.name == "postgresql":
            wrong = [
                (c.name, c.type, found[c.name])
                for c in view.columns
                if found[c.name] not in kinds[c.type]
            ]
            assert not wrong, (view.name, wrong)
