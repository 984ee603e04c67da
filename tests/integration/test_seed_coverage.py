"""Seed coverage: every endpoint in ``seed/endpoints.tsv`` is routed by the sandbox and is either
schema-checked by a row of ``spec_samples.py`` or listed here with the reason it cannot be.

"Routed" means a request with a valid credential and placeholder ids does not get the router's
own answers (``404 NOT_FOUND``, ``405 METHOD_NOT_ALLOWED``): it gets a success, or an error of
the documented shape whose status the operation documents (the spec's responses, or the seed's
text for an operation the spec lacks) or whose codes the sandbox's docs name (e.g. its choice of
``404 JOB_NOT_FOUND`` for an unknown job where the spec lists no 404).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.spec_samples import SAMPLES
from tests.integration.test_sandbox_spec import SPEC, load_spec

SEED = Path("seed/endpoints.tsv")
SEED_TEXT_GLOB = "seed/000_*.txt"
ROUTER_CODES = {"NOT_FOUND", "METHOD_NOT_ALLOWED"}
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"  # a well-formed UUID that names nothing
NOSHOW = "/interviews-api/v201904/interviews/{interviewId}/timeslots/{timeslotId}/noshow"

# Seed endpoints without a sample row, each with why it cannot be schema-checked.
UNCHECKABLE: dict[tuple[str, str], str] = {
    ("PATCH", NOSHOW): (
        "missing from smartrecruiters-openapi.prefixed.yaml (SOURCES.md: 59 of the 60 seed "
        "endpoints; the no-show PATCH is the one left out); its behaviour is checked against "
        "the seed's description in test_noshow_follows_the_seed_description"
    ),
}

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Required query parameters, given placeholder values so the endpoint looks the ids up.
QUERY: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/assessment-api/v202107/assessment-orders"): {"applicationId": PLACEHOLDER},
    ("GET", "/interviews-api/v201904/interviews"): {"applicationId": PLACEHOLDER},
    ("GET", "/messages"): {"candidateId": PLACEHOLDER},
}
# Bodies where an empty object is not a request the spec documents an answer for.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/candidates/consent-requests"): {"content": [{"id": PLACEHOLDER}]},
}

# Statuses the seed's own description gives for the operations the spec lacks.
SEED_STATUSES: dict[tuple[str, str], set[int]] = {("PATCH", NOSHOW): {204, 403, 404, 500}}


def seed_endpoints(shared: Path) -> list[tuple[str, str, str]]:
    with (shared / SEED).open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["group"], r["method"].upper(), r["path"]) for r in rows]


@pytest.fixture(scope="module")
def seed(shared_dir: Path) -> list[tuple[str, str, str]]:
    return seed_endpoints(shared_dir)


@pytest.fixture(scope="module")
def srv() -> Iterator[ThreadServer]:
    server = serve_in_thread(
        sandbox_options(jobs=3, candidates=20, limits=LimitConfig(enabled=False))
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(srv: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.base_url, headers={"X-SmartToken": TOKEN}, timeout=30) as c:
        yield c


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", PLACEHOLDER, path)


def documented_statuses(shared: Path, method: str, path: str) -> set[int]:
    op = load_spec(shared / SPEC)["paths"].get(path, {}).get(method.lower())
    if op is None:
        return SEED_STATUSES[(method, path)]
    return {int(code) for code in op["responses"] if code.isdigit()}


def error_entries(r: httpx.Response) -> list[dict[str, Any]]:
    try:
        body: Any = r.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [e for e in body["errors"] if isinstance(e, dict)]


def error_codes(r: httpx.Response) -> list[str]:
    return [str(e["code"]) for e in error_entries(r) if e.get("code")]


def documented_codes() -> str:
    return "\n".join(f.read_text() for f in sorted(DOCS.glob("*.md")))


def test_seed_lists_the_60_endpoints(seed: list[tuple[str, str, str]]) -> None:
    assert len(seed) == 60
    assert len({(m, p) for _, m, p in seed}) == 60, "an endpoint is listed twice"


def test_every_seed_endpoint_is_routed(
    shared_dir: Path, seed: list[tuple[str, str, str]], client: httpx.Client
) -> None:
    # The router's own answers look like this; the check below relies on telling them apart.
    r = client.get(concrete("/candidates/{id}/no-such-resource"))
    assert r.status_code == 404 and error_codes(r) == ["NOT_FOUND"], r.text
    r = client.request("PATCH", "/candidates")
    assert r.status_code == 405 and error_codes(r) == ["METHOD_NOT_ALLOWED"], r.text
    docs = documented_codes()
    problems: list[str] = []
    for _, method, path in seed:
        # A JSON object body for every write: placeholder ids or body checks answer first.
        body = BODIES.get((method, path), {} if method in ("POST", "PUT", "PATCH") else None)
        r = client.request(method, concrete(path), params=QUERY.get((method, path)), json=body)
        codes = error_codes(r)
        where = f"{method} {path} -> {r.status_code} {codes}"
        if r.status_code in (404, 405) and ROUTER_CODES & set(codes):
            problems.append(f"{where}: the router's answer, not the endpoint's")
        elif r.status_code >= 300:
            entries = error_entries(r)
            # {code, message}, or the 422 validation shape {dataPath, message}.
            if not entries or not all(("code" in e or "dataPath" in e) for e in entries):
                problems.append(f"{where}: not an error body of the documented shape")
            in_spec = r.status_code in documented_statuses(shared_dir, method, path)
            in_docs = bool(codes) and all(code in docs for code in codes)
            if not (in_spec or in_docs):
                problems.append(f"{where}: neither the status nor the codes are documented")
    assert not problems, "\n".join(problems)


def test_every_seed_endpoint_is_sampled_or_explained(
    shared_dir: Path, seed: list[tuple[str, str, str]]
) -> None:
    sampled = {(s.method, s.path) for s in SAMPLES}
    spec_paths = load_spec(shared_dir / SPEC)["paths"]
    missing = [
        f"{m} {p}" for _, m, p in seed if (m, p) not in sampled and (m, p) not in UNCHECKABLE
    ]
    assert not missing, "seed endpoints without a spec sample row or a reason:\n" + "\n".join(
        missing
    )
    seeded = {(m, p) for _, m, p in seed}
    for (method, path), why in UNCHECKABLE.items():
        assert (method, path) in seeded, f"{method} {path} is not a seed endpoint"
        assert (method, path) not in sampled, f"{method} {path} has a sample row after all"
        assert method.lower() not in spec_paths.get(path, {}), f"{method} {path} is in the spec"
        assert why


def test_noshow_follows_the_seed_description(client: httpx.Client) -> None:
    """The seed: a boolean query parameter sets the timeslot's no-show value; 204 on success,
    404 for an unknown interview or timeslot."""
    iv_base = "/interviews-api/v201904"
    snap = client.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    app = next(iter(snap["applications"].values()))
    team = client.get(f"/jobs/{app['jobId']}/hiring-team").json()["content"]
    users = [m["id"] for m in team]
    r = client.post(
        f"{iv_base}/interviews",
        json={
            "candidate": {"id": app["candidateId"]},
            "jobId": app["jobId"],
            "organizerId": users[0],
            "timezone": "UTC",
            "timeslots": [
                {
                    "startsOn": "2031-06-01T09:00:00.000Z",
                    "endsOn": "2031-06-01T10:00:00.000Z",
                    "interviewers": [{"id": users[-1], "status": "pending"}],
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    iv = r.json()
    slot = f"{iv_base}/interviews/{iv['id']}/timeslots/{iv['timeslots'][0]['id']}"
    for value in (True, False):
        r = client.patch(f"{slot}/noshow", params={"noShow": str(value).lower()})
        assert r.status_code == 204 and r.content == b"", r.text
        assert client.get(slot).json()["noShow"] is value
    r = client.patch(
        f"{iv_base}/interviews/{iv['id']}/timeslots/{PLACEHOLDER}/noshow", params={"noShow": "true"}
    )
    assert r.status_code == 404 and "TIMESLOT_NOT_FOUND" in error_codes(r), r.text
