from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_contacts.permissions import Reader
from crm_contacts.sync import service
from crm_contacts.sync.schemas import ChangesPage
from crm_shared.errors import ProblemDocument
from crm_shared.pagination import MAX_LIMIT
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get(
    "/changes",
    response_model=ChangesPage,
    summary="Every person, company and role changed since a token (offline sync)",
    description=(
        "Start without `since`; keep the returned `next_token` and send it back as `since`. "
        "Deletions come as tombstones (`op: delete`). Only changes of finished transactions "
        "are returned, so a change committed late by a slow transaction is delivered on a "
        "later call rather than skipped. Each record appears at most once per page, in its "
        "current state. Offline edits send the version they started from as If-Match; a "
        "conflict answers 412 with the current record under `current`. Changes are kept "
        "for a retention period (30 days by default): a client first downloads the records "
        "(list or export endpoints) and then follows the feed; a token older than the oldest "
        "kept change answers 410, and the client resyncs fully."
    ),
    responses={
        410: {
            "model": ProblemDocument,
            "description": "The token is older than the feed's retention: resync fully",
        }
    },
)
async def sync_changes(
    uow: UoW,
    _: Reader,
    since: Annotated[str | None, Query(max_length=200, description="A next_token")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> ChangesPage:
    async with uow:
        return await service.changes_since(uow, since, limit)
