"""Change feed retention: rows older than CONTACTS_SYNC_RETENTION_DAYS are pruned by the
worker; a token from before the last pruned change answers 410 (resync fully)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_contacts.settings import ContactsSettings
from crm_shared.errors import Problem
from crm_shared.settings import ServiceSettings, settings_of
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0


class TokenExpired(Problem):
    status, code, title = 410, "sync_token_expired", "The sync token is too old"


HORIZON = "SELECT xid::text::bigint AS xid, seq FROM change_feed_horizon"


async def check_token(uow: UnitOfWork, xid: int, seq: int) -> None:
    """410 when changes after the token may have been pruned."""
    horizon = await (await uow.driver()).fetchrow(HORIZON)
    if horizon is not None and (xid, seq) < (horizon["xid"], horizon["seq"]):
        raise TokenExpired(
            "The change feed no longer keeps changes this old, and some after this token are "
            "gone. Resync fully: download the records again (list or export endpoints), then "
            "follow the feed from a new token."
        )


async def prune(sessionmaker: async_sessionmaker[AsyncSession], before: datetime) -> int:
    """Delete the change rows (of every tenant) older than `before`; how many went."""
    async with sessionmaker() as session, session.begin():
        pruned = await session.scalar(text("SELECT prune_changes(:before)"), {"before": before})
    return int(pruned or 0)


async def prune_job(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    stopping: asyncio.Event,
) -> None:
    """Background job of the contacts worker: prune the change feed every hour."""
    retention = timedelta(days=settings_of(settings, ContactsSettings).sync_retention_days)
    while not stopping.is_set():
        try:
            pruned = await prune(sessionmaker, datetime.now(UTC) - retention)
            if pruned:
                log.info("change feed: pruned %d rows older than %s", pruned, retention)
        except Exception:  # pruning is housekeeping: log and try again next time
            log.exception("change feed pruning failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), PRUNE_EVERY_S)
