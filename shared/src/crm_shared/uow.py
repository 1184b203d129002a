"""Unit of work: one transaction per request or message, tenant set for row-level security,
events collected while the work runs and written to the outbox in the same commit.

    async with uow:
        person = await people.create(uow, data)   # service code calls uow.publish(event)
    # committed here, once; the relay publishes the outbox rows afterwards
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_shared.db import driver_connection
from crm_shared.events.envelope import Envelope, EventData
from crm_shared.outbox import write_outbox

SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


async def set_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Scope the current transaction to one tenant; RLS policies read `app.tenant_id`.
    Through SQLAlchemy on purpose: its first statement is what begins the transaction that
    later driver-level statements (see driver_connection) run in."""
    await session.execute(SET_TENANT, {"tenant": tenant_id})


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        tenant_id: str,
        actor: str | None,
        source: str,
        traceparent: str | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.tenant_id = tenant_id
        self.actor = actor
        self.source = source
        self.traceparent = traceparent
        self._events: list[Envelope] = []
        self._session: AsyncSession | None = None

    async def driver(self) -> Any:
        """The asyncpg connection of this unit of work's transaction (see driver_connection)."""
        return await driver_connection(self.session)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessionmaker()
        self._events = []
        await set_tenant(self._session, self.tenant_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            if exc_type is None:
                await self._commit(session)
            else:
                await session.rollback()
        finally:
            await session.close()

    async def _commit(self, session: AsyncSession) -> None:
        if self._events:
            await session.flush()
            await write_outbox(session, self._events)
        await session.commit()
        self._events = []

    async def switch_tenant(self, tenant_id: str) -> None:
        """For consumers handling a batch that spans tenants, message by message."""
        self.tenant_id = tenant_id
        await set_tenant(self.session, tenant_id)

    def publish(self, data: EventData, *, subject: str | None = None) -> Envelope:
        """Queue an event; it reaches the outbox in this unit of work's commit, or never."""
        envelope = Envelope.wrap(
            data, source=self.source, subject=subject, traceparent=self.traceparent
        )
        self._events.append(envelope)
        return envelope

    @property
    def pending_events(self) -> list[Envelope]:
        return list(self._events)
