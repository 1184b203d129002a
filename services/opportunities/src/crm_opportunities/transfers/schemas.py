from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from crm_shared.validation import StrictModel, UserId

RecordKind = Literal["leads", "opportunities"]


class TransferCreate(StrictModel):
    """Hand one owner's records to another (someone leaving, territories changing)."""

    from_owner_id: UserId
    to_owner_id: UserId
    records: list[RecordKind] = Field(
        default=["leads", "opportunities"], min_length=1, description="What to move"
    )
    include_closed: bool = Field(
        False, description="Move won and lost deals too (open ones always move)"
    )

    @model_validator(mode="after")
    def _different_owners(self) -> TransferCreate:
        if self.from_owner_id == self.to_owner_id:
            raise ValueError("from_owner_id and to_owner_id must differ")
        return self


class TransferRead(BaseModel):
    from_owner_id: str
    to_owner_id: str
    leads: int = Field(description="Open (not converted) leads moved")
    opportunities: int = Field(description="Deals moved")
