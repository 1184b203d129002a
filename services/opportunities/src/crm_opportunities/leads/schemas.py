from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_opportunities.money import Amount, Currency
from crm_shared.validation import CountryCode, Email, Name, Phone, StrictModel, UserId

LeadStatus = Literal["new", "working", "qualified", "disqualified"]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Utm = Annotated[str, Field(max_length=200)]


class LeadContactFields(StrictModel):
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    company_name: Text200 | None = None
    country: CountryCode | None = None
    industry: Annotated[str, Field(max_length=100)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    message: Annotated[str, Field(max_length=5000)] | None = None
    utm_source: Utm | None = None
    utm_medium: Utm | None = None
    utm_campaign: Utm | None = None
    utm_term: Utm | None = None
    utm_content: Utm | None = None

    @model_validator(mode="after")
    def _reachable(self) -> LeadContactFields:
        if not (self.email or self.phone or self.first_name or self.last_name):
            raise ValueError("a lead needs an email, a phone or a name")
        return self


class LeadCreate(LeadContactFields):
    source: Annotated[str, Field(min_length=1, max_length=100)] = "api"
    campaign_id: Annotated[str, Field(max_length=100)] | None = None
    owner_id: UserId | None = Field(None, description="Assign directly instead of routing")


class LeadUpdate(StrictModel):
    """PATCH: fields present replace the stored value (null clears it); the lead must keep an
    email, a phone or a name. Status and owner have their own endpoints."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    company_name: Text200 | None = None
    country: CountryCode | None = None
    industry: Annotated[str, Field(max_length=100)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    message: Annotated[str, Field(max_length=5000)] | None = None
    source: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    campaign_id: Annotated[str, Field(max_length=100)] | None = None
    utm_source: Utm | None = None
    utm_medium: Utm | None = None
    utm_campaign: Utm | None = None
    utm_term: Utm | None = None
    utm_content: Utm | None = None


class FormSubmission(LeadContactFields):
    """What a web-to-lead form posts. `website` is a honeypot: hidden from people, so a value
    there means a bot filled the form."""

    website: Annotated[str, Field(max_length=500)] | None = None


class LeadStatusChange(StrictModel):
    status: Literal["working", "qualified"]


class Disqualify(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Assign(StrictModel):
    owner_id: UserId


class ConvertLead(StrictModel):
    """Creates (or links) the person and company in contacts and opens a deal."""

    contact_id: uuid.UUID | None = Field(None, description="Link an existing person instead")
    company_id: uuid.UUID | None = Field(None, description="Link an existing company instead")
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID | None = None
    opportunity_name: Text200 | None = None
    amount: Amount = Decimal(0)
    currency: Currency


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company_name: str | None
    country: str | None
    industry: str | None
    company_size: int | None
    message: str | None
    source: str | None
    campaign_id: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    form_id: uuid.UUID | None
    status: LeadStatus
    disqualify_reason: str | None
    duplicate_of_lead_id: uuid.UUID | None
    duplicate_of_contact_id: uuid.UUID | None
    possible_duplicate: bool
    owner_id: str | None
    team_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    converted_at: datetime | None
    version: int
    created_at: datetime


class LeadFilters(BaseModel):
    status: LeadStatus | None = None
    owner_id: str | None = None
    team_id: uuid.UUID | None = None
    source: str | None = None
    possible_duplicate: bool | None = None


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    owner_id: str
    team_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    reason: str
    assigned_by: str | None
    assigned_at: datetime


class Conditions(StrictModel):
    """All present conditions must hold (lists: any of the values)."""

    country: Annotated[list[CountryCode], Field(min_length=1, max_length=250)] | None = None
    industry: Annotated[list[Text200], Field(min_length=1, max_length=100)] | None = None
    source: Annotated[list[Text200], Field(min_length=1, max_length=100)] | None = None
    company_size_min: Annotated[int, Field(ge=0)] | None = None
    company_size_max: Annotated[int, Field(ge=0)] | None = None


class RuleCreate(StrictModel):
    name: Text200
    position: Annotated[int, Field(ge=0, le=10_000)]
    conditions: Conditions = Conditions()
    team_id: uuid.UUID
    active: bool = True


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: int
    conditions: dict[str, object]
    team_id: uuid.UUID
    active: bool


class FormCreate(StrictModel):
    name: Text200
    source: Annotated[str, Field(min_length=1, max_length=100)] = "web_form"
    campaign_id: Annotated[str, Field(max_length=100)] | None = None
    rate_limit_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 5


class FormRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    name: str
    source: str
    campaign_id: str | None
    rate_limit_per_hour: int
    active: bool


class SubmissionAccepted(BaseModel):
    lead_id: uuid.UUID
    status: Literal["received"] = "received"
