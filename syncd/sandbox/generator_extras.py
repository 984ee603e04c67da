"""Generated objects beyond jobs, candidates, applications and offers: approvals, interviews,
messages, assessment orders, attachments. Called once at the end of ``generate``."""

from __future__ import annotations

from syncd.sandbox.state import Tenant


def generate_extras(t: Tenant, anchor: float) -> None:
    """Filled in by the API groups that need generated data."""
