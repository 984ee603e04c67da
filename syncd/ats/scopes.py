"""Which OAuth scope an endpoint needs, so a 401/403 can say what is missing
(SMARTRECRUITERS.md "Authentication"; scope names as the API documents them)."""

from __future__ import annotations

import re

_RULES: list[tuple[str, str, str]] = [
    # (method regex, path regex, scope); first match wins
    ("GET", r"^/candidates/[^/]+/jobs/[^/]+/offers", "candidates_offers_read"),
    ("GET", r"^/candidates/[^/]+/jobs/[^/]+/status", "candidate_status_read"),
    ("GET", r"^/candidates", "candidates_read"),
    ("POST", r"^/candidates$|^/candidates/cv$|^/jobs/[^/]+/candidates$", "candidates_create"),
    (".*", r"^/candidates", "candidates_manage"),
    ("GET", r"^/offers", "candidates_offers_read"),
    (".*", r"^/jobs/[^/]+/(publication|jobads/[^/]+/postings)", "jobs_publications_manage"),
    ("POST", r"^/jobs/[^/]+/candidates$", "candidates_create"),
    ("GET", r"^/jobs", "jobs_read"),
    (".*", r"^/jobs", "jobs_manage"),
    ("GET", r"^/configuration", "configuration_read"),
    (".*", r"^/configuration", "configuration_manage"),
    ("GET", r"^/audit-api/", "audit_events_read"),
    ("GET", r"^/approvals-api/", "approvals_read"),
    (".*", r"^/approvals-api/", "approvals_manage"),
    ("GET", r"^/interviews-api/", "interviews_read"),
    (".*", r"^/interviews-api/", "interviews_manage"),
    ("GET", r"^/job-applications-api/", "job_applications_read"),
    ("GET", r"^/messages", "messages_read"),
    (".*", r"^/messages", "messages_write"),
    ("GET", r"^/webhooks-api/", "webhooks_read"),
    (".*", r"^/webhooks-api/", "webhooks_manage"),
    (".*", r"^/assessment-api/", "assessments_manage"),
]
_COMPILED = [(re.compile(m), re.compile(p), s) for m, p, s in _RULES]


def required_scope(method: str, path: str) -> str | None:
    for m, p, scope in _COMPILED:
        if m.fullmatch(method.upper()) and p.search(path):
            return scope
    return None
