from __future__ import annotations

import itertools
import uuid
from datetime import date, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_shared.validation import StrictModel, TimeZoneName

Minutes = Annotated[int, Field(ge=1, le=525_600)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class PolicyCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Key customers",
                    "value_tier": "key",
                    "first_response_minutes": 30,
                    "next_response_minutes": 60,
                    "resolution_minutes": 480,
                    "minimum_priority": "high",
                    "escalate_priority": True,
                }
            ]
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=100)]
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    value_tier: Literal["key", "standard", "low", "unprofitable"] | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    warning_share: Annotated[float, Field(gt=0, lt=1)] = 0.8
    business_hours: bool = True
    escalate_priority: bool = False
    escalate_queue_id: uuid.UUID | None = None
    minimum_priority: Literal["low", "normal", "high", "urgent"] | None = Field(
        None,
        description="Tickets under this policy are raised to at least this priority (with a "
        "`value_tier`: the customer's value sets the priority, not only the targets).",
    )

    @model_validator(mode="after")
    def _some_target(self) -> PolicyCreate:
        if not (
            self.first_response_minutes or self.next_response_minutes or self.resolution_minutes
        ):
            raise ValueError("a policy needs at least one target")
        return self


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    priority: str | None
    value_tier: str | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    warning_share: float
    business_hours: bool
    escalate_priority: bool
    escalate_queue_id: uuid.UUID | None
    minimum_priority: str | None


class Span(StrictModel):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.start >= self.end:
            raise ValueError("a span must start before it ends")
        return self


class CalendarIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "timezone": "Europe/Warsaw",
                    "weekly_hours": {
                        day: [{"start": "09:00", "end": "17:00"}]
                        for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holidays": ["2026-12-25", "2026-12-26"],
                }
            ]
        }
    )

    timezone: TimeZoneName
    weekly_hours: dict[Weekday, Annotated[list[Span], Field(max_length=6)]]
    holidays: Annotated[list[date], Field(max_length=400)] = []

    @field_validator("weekly_hours")
    @classmethod
    def _open_sometime(cls, value: dict[str, list[Span]]) -> dict[str, list[Span]]:
        if not any(value.values()):
            raise ValueError("a calendar needs at least one working span")
        for spans in value.values():
            ordered = sorted(spans, key=lambda s: s.start)
            if any(a.end > b.start for a, b in itertools.pairwise(ordered)):
                raise ValueError("spans of one day must not overlap")
        return value


class CalendarRead(BaseModel):
    timezone: str
    weekly_hours: dict[str, list[Span]]
    holidays: list[date]
