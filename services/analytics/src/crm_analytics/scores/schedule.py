"""When scores are recomputed: as orders arrive (the order handlers request a recompute) and at
least once a day (recency moves even when nothing happens), by `score_job`, a background job
of the consumer/worker process.

Handlers only bump a per-tenant request counter in their own transaction (one cheap statement);
the scheduler recomputes a tenant whose counter moved past what its last recompute covered, or
whose scores are older than `max_age`. A transaction-scoped advisory lock per tenant keeps two
scheduler replicas from recomputing the same tenant at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_analytics.projections.batch import state
from crm_analytics.projections.models import ScoreSchedule
from crm_analytics.scores.service import recompute_scores
from crm_analytics.settings import AnalyticsSettings
from crm_shared.settings import ServiceSettings, settings_of
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('crm_analytics.scores:' || :tenant))")


async def request_recompute(uow: UnitOfWork) -> None:
    requested = state(uow).recompute_requested
    if uow.tenant_id in requested:
        return  # once per tenant and batch is enough
    requested.add(uow.tenant_id)
    stmt = insert(ScoreSchedule).values(tenant_id=uow.tenant_id, requests=1, computed_requests=0)
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"requests": ScoreSchedule.requests + 1}
        )
    )


async def mark_computed(uow: UnitOfWork, covered: int, at: datetime) -> None:
    stmt = insert(ScoreSchedule).values(
        tenant_id=uow.tenant_id, requests=covered, computed_requests=covered, computed_at=at
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"computed_requests": covered, "computed_at": at},
        )
    )


async def requests_now(uow: UnitOfWork) -> int:
    value = await uow.session.scalar(
        select(ScoreSchedule.requests).where(ScoreSchedule.tenant_id == uow.tenant_id)
    )
    return value or 0


async def due_tenants(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, max_age: timedelta
) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ScoreSchedule.tenant_id)
            .where(
                or_(
                    ScoreSchedule.requests > ScoreSchedule.computed_requests,
                    func.coalesce(ScoreSchedule.computed_at, datetime.min.replace(tzinfo=UTC))
                    < now - max_age,
                )
            )
            .order_by(ScoreSchedule.tenant_id)
        )
        return list(rows)


async def recompute_tenant(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: ServiceSettings,
    tenant: str,
    now: datetime,
) -> dict[str, int] | None:
    """Recompute one tenant unless another replica holds it; None when skipped."""
    async with UnitOfWork(
        sessionmaker, tenant_id=tenant, actor=None, source=settings.source
    ) as uow:
        if not await uow.session.scalar(LOCK, {"tenant": tenant}):
            return None
        covered = await requests_now(uow)  # read before the orders: later ones stay due
        result = await recompute_scores(uow, now)
        await mark_computed(uow, covered, now)
        return result


async def run_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: ServiceSettings,
    *,
    now: datetime | None = None,
    max_age: timedelta = timedelta(days=1),
) -> dict[str, dict[str, int]]:
    now = now or datetime.now(UTC)
    done = {}
    for tenant in await due_tenants(sessionmaker, now, max_age):
        result = await recompute_tenant(sessionmaker, settings, tenant, now)
        if result is not None:
            done[tenant] = result
    return done


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: ServiceSettings,
    interval_s: float,
    stopping: asyncio.Event,
) -> None:
    while not stopping.is_set():
        try:
            for tenant, result in (await run_due(sessionmaker, settings)).items():
                log.info("recomputed scores for %s: %s", tenant, result)
        except Exception:  # keep scheduling; the next round retries
            log.exception("score recompute round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)


async def score_job(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    stopping: asyncio.Event,
) -> None:
    """The scheduler as a background job of the consumer/worker process (ServiceSpec.jobs)."""
    interval_s = settings_of(settings, AnalyticsSettings).scores_interval_s
    await run_forever(sessionmaker, settings, interval_s, stopping)
