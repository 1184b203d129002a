from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.validation import StrictModel

MergeField = Literal[
    "first_name",
    "last_name",
    "emails",
    "phones",
    "addresses",
    "job_title",
    "language",
    "timezone",
    "lifecycle_stage",
    "source",
    "external_id",
    "tags",
    "attributes",
    "owner_id",
    "relationship_level",
    "preferences",
]
Reason = Literal["same_email", "same_phone", "similar_name_same_company"]


class MergeCreate(StrictModel):
    survivor_id: uuid.UUID
    merged_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)]
    fields: dict[MergeField, uuid.UUID] = Field(
        default_factory=dict,
        description=(
            "Which person's value wins, field by field (the survivor's when absent). Emails, "
            "phones and tags default to the union of everyone's; attributes to everyone's "
            "keys with the survivor's values winning."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> MergeCreate:
        if len(set(self.merged_ids)) != len(self.merged_ids):
            raise ValueError("a person is listed twice in merged_ids")
        if self.survivor_id in self.merged_ids:
            raise ValueError("the survivor cannot also be merged")
        people = {self.survivor_id, *self.merged_ids}
        if any(source not in people for source in self.fields.values()):
            raise ValueError("a field's winner must be the survivor or one of the merged people")
        return self


class MergeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survivor_id: uuid.UUID
    merged_ids: list[uuid.UUID]
    choices: dict[str, str]
    actor: str | None
    created_at: datetime
    expires_at: datetime = Field(description="The merge can be undone until then")
    undone_at: datetime | None


class DuplicateCandidate(BaseModel):
    person_id: uuid.UUID
    score: float = Field(ge=0, le=1, description="How likely the pair is one person")
    reasons: list[Reason]


class DuplicatePair(BaseModel):
    person_ids: tuple[uuid.UUID, uuid.UUID]
    score: float = Field(ge=0, le=1)
    reasons: list[Reason]
