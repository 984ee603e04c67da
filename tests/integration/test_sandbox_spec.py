"""Spec conformance: real sandbox responses validated against the response schemas of
``smartrecruiters-openapi.prefixed.yaml``.

Every spec operation becomes one test case. Operations the sandbox does not route are skipped
with that reason; operations it routes but that have no row in ``spec_samples.py`` are skipped
asking for one; every sampled response must match its schema.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from starlette.routing import Match

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.routes import ROUTES
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import SHARED, TOKEN, sandbox_options
from tests.integration.spec_samples import SAMPLES, Ctx, Sample

SPEC = Path("specs/smartrecruiters/smartrecruiters-openapi.prefixed.yaml")
METHODS = ("get", "put", "post", "patch", "delete")

# Schemas that SOURCES.md lists as merge defects: Konfig merged same-named schemas of different
# APIs, so each carries required fields and constraints of an API whose object it is not (e.g.
# `Location` requires `countryCode` and caps `regionCode` at 5 characters for the Posting API;
# `Candidate` mixes in the interviews API). For these, and only these, required lists and
# `additionalProperties: false` are dropped; property types are still checked.
MERGE_DEFECT_SCHEMAS = ("Candidate", "Job", "Attachment", "Location", "Event")
# SOURCES.md: "`Subscription.events.items` points to `Event` (the audit event) instead of
# `EventName`". Subscriptions list event names; the test points the items back at `EventName`.
EVENT_NAME_DEFECT = "Subscription"

# Where the sandbox knowingly differs from the spec and the fix lies outside the routes and the
# tenant store (both in the tenant generator, syncd/sandbox/generator.py). A case whose only
# problems match one of these is reported as XFAIL with the reason, never silently passed; any
# other problem in the same response still fails it. Drop an entry once the generator conforms.
KNOWN_DEVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"does not match '\[a-fA-F0-9\]\{24\}'"),
        "the sandbox's user ids are UUIDs; the Interviews API's are 24 hex digits "
        "(generator.py makes the users; docs/sandbox-endpoints.md documents the choice)",
    ),
    (
        re.compile(r"subtypes: \[\] should be non-empty|'sourceSubType' is a required property"),
        "the generated source types have no sub-types; the spec requires at least one per "
        "type and a sourceSubType on every source value (generator.py's SOURCE_TYPES)",
    ),
)


@cache
def load_spec(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open() as fh:
        return dict(yaml.load(fh, Loader=loader))


def _operations() -> list[tuple[str, str]]:
    path = SHARED / SPEC
    if not path.is_file():
        # Collected without the reference material: one case that the shared_dir fixture skips.
        return [("-", "-")]
    spec = load_spec(path)
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS]


def _relax(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _relax(v) for k, v in schema.items() if k != "required"}
        if out.get("additionalProperties") is False:
            del out["additionalProperties"]
        return out
    if isinstance(schema, list):
        return [_relax(v) for v in schema]
    return schema


@cache
def _components(path: Path) -> dict[str, Any]:
    comps = copy.deepcopy(load_spec(path)["components"])
    for name in MERGE_DEFECT_SCHEMAS:
        comps["schemas"][name] = _relax(comps["schemas"][name])
    # `Job` is used as `allOf: [Job, Assignment]` for a candidate's assignments, where `status`
    # is the application's status (Assignment's CandidateStatusEnum), not a JobStatus: the merged
    # `Job` would reject every real assignment. Assignment still checks `status`.
    del comps["schemas"]["Job"]["properties"]["status"]
    events = comps["schemas"][EVENT_NAME_DEFECT]["properties"]["events"]
    events["items"] = {"$ref": "#/components/schemas/EventName"}
    return dict(comps)


def served(method: str, path: str) -> bool:
    concrete = path.replace("{", "x-").replace("}", "")
    scope = {"type": "http", "method": method, "path": concrete, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in ROUTES)


SAMPLE_BY_OP: dict[tuple[str, str], Sample] = {(s.method, s.path): s for s in SAMPLES}


@pytest.fixture(scope="module")
def spec_server() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


class _EchoHandshake(BaseHTTPRequestHandler):
    """A webhook receiver that passes the activation handshake and accepts every delivery."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        secret = self.headers.get("X-Hook-Secret")
        # The handshake wants 200 with the secret echoed; a delivery wants 202 Accepted.
        self.send_response(200 if secret else 202)
        if secret:
            self.send_header("X-Hook-Secret", secret)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def hook_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandshake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def ctx(spec_server: ThreadServer, hook_url: str) -> Iterator[Ctx]:
    headers = {"X-SmartToken": TOKEN}
    with httpx.Client(base_url=spec_server.base_url, headers=headers, timeout=30) as client:
        yield Ctx(client, hook_url=hook_url, company_id=spec_server.sandbox.tenant.company_id)


def response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    resp = op["responses"].get(str(status))
    if resp is None:
        raise AssertionError(f"the spec documents no {status} response for this operation")
    content = resp.get("content") or {}
    for media, body in content.items():
        if "json" in media and "schema" in body:
            return dict(body["schema"])
    return None


def send(ctx: Ctx, sample: Sample) -> httpx.Response:
    req = sample.build(ctx)
    headers = {"X-SmartToken": ""} if req.anonymous else None
    return ctx.client.request(
        sample.method,
        req.path,
        params=req.params,
        json=req.json,
        data=req.form,
        files=req.files,
        headers=headers,
    )


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
def test_response_matches_spec(shared_dir: Path, ctx: Ctx, method: str, path: str) -> None:
    spec_path = shared_dir / SPEC
    spec = load_spec(spec_path)
    if not served(method, path):
        pytest.skip(f"sandbox does not serve {method} {path}")
    sample = SAMPLE_BY_OP.get((method, path))
    if sample is None:
        pytest.skip(f"served, but no sample row for {method} {path} in spec_samples.py")
    op = spec["paths"][path][method.lower()]
    r = send(ctx, sample)
    assert r.status_code == sample.status, r.text[:500]
    schema = response_schema(op, sample.status)
    if schema is None:
        assert r.content == b"", "the spec documents no body for this response"
        return
    body = r.json()
    validator = OAS30Validator(
        {**schema, "components": _components(spec_path)}, format_checker=oas30_format_checker
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors
    ]
    known = {why for p in problems for rx, why in KNOWN_DEVIATIONS if rx.search(p)}
    others = [p for p in problems if not any(rx.search(p) for rx, _ in KNOWN_DEVIATIONS)]
    assert not others, f"{method} {path} does not match the spec:\n" + "\n".join(others[:20])
    if known:
        pytest.xfail("known sandbox deviation: " + "; ".join(sorted(known)))


def test_sample_rows_name_spec_operations(shared_dir: Path) -> None:
    spec = load_spec(shared_dir / SPEC)
    for s in SAMPLES:
        assert s.method.lower() in spec["paths"].get(s.path, {}), f"{s.method} {s.path} not in spec"
        assert served(s.method, s.path), f"{s.method} {s.path}: sample row for an unserved path"


def test_relaxed_schemas_are_the_merge_defects_only(shared_dir: Path) -> None:
    comps = _components(shared_dir / SPEC)
    original = load_spec(shared_dir / SPEC)["components"]["schemas"]
    changed = {n for n, s in comps["schemas"].items() if s != original[n]}
    assert changed <= {*MERGE_DEFECT_SCHEMAS, EVENT_NAME_DEFECT}, json.dumps(sorted(changed))
