"""Tolerant pydantic models of the objects syncd reads.

Every model keeps fields it does not know (``extra="allow"``) and every enum field accepts values
it does not know (``OpenEnum[...]``: the known member when the value is known, else the plain
string), because SmartRecruiters adds fields and enum values without a new API version.
Validate raw JSON with ``Model.model_validate(raw)``; ``model_dump(by_alias=True)`` gives it back.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

E = TypeVar("E", bound=Enum)


# The known member when the value is known, else the string as received.
OpenEnum = Annotated[E | str, Field(union_mode="left_to_right")]


class AtsModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ApplicationStatus(StrEnum):
    LEAD = "LEAD"
    NEW = "NEW"
    IN_REVIEW = "IN_REVIEW"
    INTERVIEW = "INTERVIEW"
    OFFERED = "OFFERED"
    HIRED = "HIRED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    TRANSFERRED = "TRANSFERRED"


class OnboardingStatus(StrEnum):
    READY_TO_ONBOARD = "READY_TO_ONBOARD"
    ONBOARDING_SUCCESSFUL = "ONBOARDING_SUCCESSFUL"
    ONBOARDING_FAILED = "ONBOARDING_FAILED"


class JobStatus(StrEnum):
    CREATED = "CREATED"
    SOURCING = "SOURCING"
    FILLED = "FILLED"
    INTERVIEW = "INTERVIEW"
    OFFER = "OFFER"
    CANCELLED = "CANCELLED"
    ON_HOLD = "ON_HOLD"
    OTHER = "OTHER"


class PostingStatus(StrEnum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"
    NOT_PUBLISHED = "NOT_PUBLISHED"
    PRIVATE = "PRIVATE"


class OfferStatus(StrEnum):
    CREATED = "CREATED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    NOT_APPROVED = "NOT_APPROVED"
    PENDING_ACCEPTANCE = "PENDING_ACCEPTANCE"
    ACCEPTED = "ACCEPTED"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    ABANDONED = "ABANDONED"


class ConsentStatus(StrEnum):
    REQUIRED = "REQUIRED"
    PENDING = "PENDING"
    ACQUIRED = "ACQUIRED"


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ABANDONED = "ABANDONED"


class PositionType(StrEnum):
    NEW = "NEW"
    REPLACEMENT = "REPLACEMENT"


class Action(AtsModel):
    url: str | None = None
    method: str | None = None


class Location(AtsModel):
    country: str | None = None
    country_code: str | None = Field(default=None, alias="countryCode")
    region: str | None = None
    city: str | None = None
    remote: bool | None = None


class Ref(AtsModel):
    id: str | None = None
    label: str | None = None


class Consent(AtsModel):
    status: OpenEnum[ConsentStatus] | None = None


class Candidate(AtsModel):
    """A candidate as listed or in detail."""

    id: str
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    email: str | None = None
    phone_number: str | None = Field(default=None, alias="phoneNumber")
    location: Location | None = None
    tags: list[str] = Field(default_factory=list)
    consent: Consent | None = None
    created_on: datetime | None = Field(default=None, alias="createdOn")
    updated_on: datetime | None = Field(default=None, alias="updatedOn")
    actions: dict[str, Action] = Field(default_factory=dict)


class Application(AtsModel):
    """``GET /candidates/{id}/jobs/{jobId}``."""

    id: str | None = None
    status: OpenEnum[ApplicationStatus] | None = None
    sub_status: str | None = Field(default=None, alias="subStatus")
    onboarding_status: OpenEnum[OnboardingStatus] | None = Field(
        default=None, alias="onboardingStatus"
    )
    starts_on: datetime | None = Field(default=None, alias="startsOn")
    created_on: datetime | None = Field(default=None, alias="createdOn")
    last_status_update_on: datetime | None = Field(default=None, alias="lastStatusUpdateOn")
    job: Ref | None = None
    actions: dict[str, Action] = Field(default_factory=dict)


class StatusChange(AtsModel):
    changed_on: datetime | None = Field(default=None, alias="changedOn")
    status: str | None = None
    sub_status: str | None = Field(default=None, alias="subStatus")


class Job(AtsModel):
    id: str
    title: str | None = None
    ref_number: str | None = Field(default=None, alias="refNumber")
    status: OpenEnum[JobStatus] | None = None
    posting_status: OpenEnum[PostingStatus] | None = Field(default=None, alias="postingStatus")
    location: Location | None = None
    department: Ref | None = None
    created_on: datetime | None = Field(default=None, alias="createdOn")
    updated_on: datetime | None = Field(default=None, alias="updatedOn")
    last_activity_on: datetime | None = Field(default=None, alias="lastActivityOn")
    actions: dict[str, Action] = Field(default_factory=dict)


class Position(AtsModel):
    id: str
    type: OpenEnum[PositionType] | None = None
    position_opened_on: datetime | None = Field(default=None, alias="positionOpenedOn")
    target_start_date: datetime | None = Field(default=None, alias="targetStartDate")


class Offer(AtsModel):
    id: str
    status: OpenEnum[OfferStatus] | None = None
    created_on: datetime | None = Field(default=None, alias="createdOn")
    updated_on: datetime | None = Field(default=None, alias="updatedOn")
    properties: dict[str, Any] = Field(default_factory=dict)
    actions: dict[str, Action] = Field(default_factory=dict)


class AuditEvent(AtsModel):
    event_id: str | None = Field(default=None, alias="eventId")
    event_name: str | None = Field(default=None, alias="eventName")
    event_date: datetime | None = Field(default=None, alias="eventDate")
    author_type: str | None = Field(default=None, alias="authorType")
    author_id: str | None = Field(default=None, alias="authorId")
    entity_type: str | None = Field(default=None, alias="entityType")
    entity_id: str | None = Field(default=None, alias="entityId")


class ApprovalRequest(AtsModel):
    id: str
    status: OpenEnum[ApprovalStatus] | None = None


class Interview(AtsModel):
    id: str
    title: str | None = None
    timeslots: list[dict[str, Any]] = Field(default_factory=list)


class WebhookSubscription(AtsModel):
    id: str
    callback_url: str | None = Field(default=None, alias="callbackUrl")
    events: list[str] = Field(default_factory=list)
    status: str | None = None


class ConfigurationItem(AtsModel):
    id: str | None = None
    label: str | None = None
