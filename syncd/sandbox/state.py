"""The tenant's state and every change made to it.

All writes go through ``Tenant`` methods so that ``updatedOn``, status histories, the audit trail
and outgoing webhook events stay consistent whoever makes the change: an API call, the control
API, or background activity.

``Tenant`` is put together from one module per concern: the data, lookups, audit trail and
webhook plumbing (``tenant_core``), and the changes per API group: candidates and applications
(``tenant_candidates``), jobs, positions, hiring team and postings (``tenant_jobs``), offers
(``tenant_offers``) and approvals (``tenant_approvals``). The status vocabularies live in
``statuses``. Everything the rest of the sandbox imports stays importable from here.
"""

from __future__ import annotations

from syncd.sandbox.statuses import (
    APPLICATION_STATUSES,
    CONSENT_STATUSES,
    FINAL_APPLICATION_STATUSES,
    FINAL_OFFER_STATUSES,
    JOB_STATUSES,
    OFFER_STATUSES,
    ONBOARDING_STATUSES,
    POSTING_STATUSES,
)
from syncd.sandbox.tenant_approvals import ApprovalWrites, approval_record
from syncd.sandbox.tenant_core import Listener, TenantCore, new_id
from syncd.sandbox.tenant_jobs import JobWrites

__all__ = [
    "APPLICATION_STATUSES",
    "CONSENT_STATUSES",
    "FINAL_APPLICATION_STATUSES",
    "FINAL_OFFER_STATUSES",
    "JOB_STATUSES",
    "OFFER_STATUSES",
    "ONBOARDING_STATUSES",
    "POSTING_STATUSES",
    "Listener",
    "Tenant",
    "TenantCore",
    "approval_record",
    "new_id",
]


class Tenant(JobWrites, ApprovalWrites):
    """One SmartRecruiters tenant in memory: ``TenantCore``'s data and plumbing with every API
    group's changes (approvals bring offers, which bring candidates and applications)."""
