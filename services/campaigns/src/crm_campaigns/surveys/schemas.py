from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.validation import StrictModel

Intent = Literal["unconditional", "conditional", "none"]


class SurveyCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    campaign_id: uuid.UUID | None = None


class SurveyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    campaign_id: uuid.UUID | None
    created_at: datetime


class LinkRequest(StrictModel):
    contact_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]
    valid_days: Annotated[int, Field(ge=1, le=365)] = 30


class SurveyLink(BaseModel):
    contact_id: uuid.UUID
    token: str


class Answer(StrictModel):
    token: Annotated[str, Field(min_length=10, max_length=2000)]
    repurchase_intent: Intent | None = Field(
        default=None, description="Will you buy again: unconditionally, conditionally, no"
    )
    nps_score: Annotated[int, Field(ge=0, le=10)] | None = None
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Annotated[str, Field(max_length=5000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Answer:
        if self.repurchase_intent is None and self.nps_score is None and self.satisfaction is None:
            raise ValueError("answer at least one question")
        return self


class Answered(BaseModel):
    response_id: uuid.UUID
    answered_at: datetime


class SurveyResults(BaseModel):
    survey_id: uuid.UUID
    responses: int
    loyalty_respondents: int = Field(description="K: people who answered the loyalty question")
    standard_loyalty_index: float | None = Field(description="(Kb + Kw) / K x 100%")
    strengthened_loyalty_index: float | None = Field(description="Kb / K x 100%")
    nps_respondents: int
    nps: float | None = Field(description="% promoters (9-10) - % detractors (0-6)")
