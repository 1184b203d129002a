from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm_shared.events.common import SourceRef


class TimelineItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    type: str
    kind: str | None
    channel: str | None
    direction: str | None
    source: SourceRef
    summary: str | None
    actor_id: str | None
    contact_id: str | None
    company_id: str | None
