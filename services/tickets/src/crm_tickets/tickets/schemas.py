from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.validation import (
    Email,
    LongText,
    Name,
    Phone,
    ShortText,
    StrictModel,
    Tags,
    UserId,
)

TicketChannel = Literal["email", "phone", "chat", "web", "social", "api"]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Kind = Literal["incident", "problem", "question", "task"]
Subject = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(min_length=1, max_length=50_000)]


class Requester(StrictModel):
    """Who asks: a person id, or an email / phone matched to a person (created if unknown)."""

    person_id: uuid.UUID | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _some(self) -> Requester:
        if not (self.person_id or self.email or self.phone):
            raise ValueError("a requester needs a person_id, an email or a phone")
        return self


class TicketCreate(StrictModel):
    subject: Subject
    description: LongText | None = None
    requester: Requester
    channel: TicketChannel = "web"
    priority: Priority = "normal"
    category: ShortText | None = None
    kind: Kind = "incident"
    queue_id: uuid.UUID | None = None
    assignee_id: UserId | None = None
    tags: Tags = []
    asset_id: uuid.UUID | None = None
    order_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class TicketUpdate(StrictModel):
    """PATCH (If-Match): fields present replace the stored value."""

    subject: Subject | None = None
    priority: Priority | None = None
    category: ShortText | None = None
    tags: Tags | None = None
    asset_id: uuid.UUID | None = None
    order_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class StatusChange(StrictModel):
    status: Status


class Assignment(StrictModel):
    assignee_id: UserId | None = None
    queue_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _some(self) -> Assignment:
        if self.assignee_id is None and self.queue_id is None:
            raise ValueError("give an assignee_id, a queue_id or both")
        return self


class MessageCreate(StrictModel):
    body: Body
    public: bool = True
    direction: Literal["inbound", "outbound"] = "outbound"
    channel: TicketChannel | None = None


class MergeRequest(StrictModel):
    into_ticket_id: uuid.UUID


class ProblemLink(StrictModel):
    incident_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=200)]


class EmailIntake(StrictModel):
    """An inbound email as the mail provider's webhook posts it."""

    from_address: Email = Field(alias="from")
    from_name: Name | None = None
    subject: Annotated[str, Field(max_length=998)] = ""
    text: Body
    message_id: Annotated[str, Field(min_length=1, max_length=300)]
    in_reply_to: Annotated[str, Field(max_length=300)] | None = None
    references: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=50)] = []

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class ChatIntake(StrictModel):
    session_id: Annotated[str, Field(min_length=1, max_length=200)]
    email: Email | None = None
    phone: Phone | None = None
    name: Name | None = None
    text: Body

    @model_validator(mode="after")
    def _who(self) -> ChatIntake:
        if not (self.email or self.phone):
            raise ValueError("a chat visitor needs an email or a phone")
        return self


class PhoneIntake(StrictModel):
    phone: Phone
    name: Name | None = None
    direction: Literal["inbound", "outbound"] = "inbound"
    summary: Body
    duration_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    ticket_id: uuid.UUID | None = None
    subject: Subject | None = None


class CsatIn(StrictModel):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: LongText | None = None


class SlaTargetRead(BaseModel):
    target: str
    cycle: int
    state: Literal["running", "paused", "met", "breached", "missed"]
    due_at: datetime | None
    warn_at: datetime | None
    consumed_seconds: float
    budget_seconds: int
    warned: bool
    breached: bool


class AssetInfo(BaseModel):
    id: uuid.UUID
    product: str | None
    serial_number: str | None
    purchase_date: date
    warranty_until: date | None
    under_warranty: bool


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    reference: str
    subject: str
    description: str | None
    requester_id: uuid.UUID
    channel: str
    priority: str
    category: str | None
    status: str
    kind: str
    assignee_id: str | None
    queue_id: uuid.UUID | None
    tags: list[str]
    asset_id: uuid.UUID | None
    order_id: str | None
    problem_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    sla_policy_id: uuid.UUID | None
    value_tier: str | None
    first_responded_at: datetime | None
    solved_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    sla: list[SlaTargetRead] = []
    asset: AssetInfo | None = None
    csat_token: str | None = None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    channel: str
    direction: str
    public: bool
    body: str
    author_id: str | None
    created_at: datetime


class IntakeResult(BaseModel):
    ticket_id: uuid.UUID
    reference: str
    message_id: uuid.UUID
    created: bool


class TicketFilters(BaseModel):
    status: Status | None = None
    queue_id: uuid.UUID | None = None
    assignee_id: str | None = None
    requester_id: uuid.UUID | None = None
