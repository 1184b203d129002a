from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_contacts.custom_fields.values import coerce
from crm_shared.validation import StrictModel

FieldType = Literal["text", "number", "date", "boolean", "select"]
FieldEntity = Literal["person", "company"]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")]


class CustomFieldCreate(StrictModel):
    entity: FieldEntity
    key: Key = Field(description="The key in `attributes` that holds the value")
    label: Annotated[str, Field(min_length=1, max_length=100)]
    type: FieldType
    required: bool = False
    options: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=200)
    ] = []
    default: Any = None

    @model_validator(mode="after")
    def _consistent(self) -> CustomFieldCreate:
        if self.type == "select" and not self.options:
            raise ValueError("a select field needs options")
        if self.type != "select" and self.options:
            raise ValueError("only select fields have options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("an option is listed twice")
        if self.default is not None:
            self.default = coerce(self.type, self.options, self.default)
        return self


class CustomFieldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entity: FieldEntity
    key: str
    label: str
    type: FieldType
    required: bool
    options: list[str]
    default: Any
    created_at: datetime
