"""The API groups of the SmartRecruiters client, one module each: typed async methods over
``SmartRecruitersClient.request``. Reads return the JSON as received; ``syncd.ats.models``
validates it into tolerant pydantic models when a caller wants types."""

from syncd.ats.groups.applications import Applications
from syncd.ats.groups.approvals import Approvals
from syncd.ats.groups.assessments import Assessments
from syncd.ats.groups.audit import Audit
from syncd.ats.groups.candidates import Candidates
from syncd.ats.groups.configuration import Configuration
from syncd.ats.groups.interviews import Interviews
from syncd.ats.groups.jobs import Jobs
from syncd.ats.groups.messages import Messages
from syncd.ats.groups.offers import Offers
from syncd.ats.groups.webhooks import Webhooks

__all__ = [
    "Applications",
    "Approvals",
    "Assessments",
    "Audit",
    "Candidates",
    "Configuration",
    "Interviews",
    "Jobs",
    "Messages",
    "Offers",
    "Webhooks",
]
