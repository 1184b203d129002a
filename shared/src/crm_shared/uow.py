"""Unit of work: one transaction per request or message, tenant set for row-level security,
events collected while the work runs and written to the outbox in the same commit.

    async with uow:
        person = await people.create(uow, data)   # service code calls uow.publish(event)
    # committed here, once; the relay publishes the outbox rows afterwards

The transaction is driven on the driver connection rather than by SQLAlchemy: BEGIN and the
tenant travel in one round trip, and the session runs on that connection in autocommit mode,
so its statements (flushes, savepoints) all land inside our transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_shared.db import driver_connection
from crm_shared.events.envelope import Envelope, EventData
from crm_shared.outbox import write_outbox

SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"  # RLS policies read it


def begin_for_tenant(tenant_id: str) -> str:
    """BEGIN and the tenant setting as one simple-protocol query (which takes no parameters:
    the tenant is quoted as a literal; tenant ids never hold a backslash or NUL, refused here
    so that the quoting holds whatever standard_conforming_strings says)."""
    if "\\" in tenant_id or "\x00" in tenant_id:
        raise ValueError(f"not a tenant id: {tenant_id!r}")
    literal = "'" + tenant_id.replace("'", "''") + "'"
    return f"BEGIN; SELECT set_config('app.tenant_id', {literal}, true)"


@contextlib.asynccontextmanager
async def savepoint(driver: Any) -> AsyncIterator[None]:
    """On a driver connection inside a transaction: the block's statements are undone alone if
    it raises. Plain SQL, because asyncpg's own `transaction()` refuses to nest in a transaction
    it did not start (the unit of work starts its own). Nested savepoints may share the name:
    PostgreSQL's ROLLBACK TO and RELEASE act on the most recent one."""
    await driver.execute("SAVEPOINT crm_savepoint")
    try:
        yield
    except BaseException:
        await driver.execute("ROLLBACK TO SAVEPOINT crm_savepoint")
        raise
    await driver.execute("RELEASE SAVEPOINT crm_savepoint")


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
        self._driver: Any = None

    async def driver(self) -> Any:
        """The asyncpg connection of this unit of work's transaction (see driver_connection)."""
        if self._driver is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._driver

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._session

    async def __aenter__(self) -> Self:
        session = self._sessionmaker()
        try:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            self._driver = await driver_connection(session)
            await self._driver.execute(begin_for_tenant(self.tenant_id))
        except BaseException:
            await self._release(session)
            raise
        self._session, self._events = session, []
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
                await self._driver.execute("ROLLBACK")
        finally:
            await self._release(session)

    async def _commit(self, session: AsyncSession) -> None:
        await session.flush()
        if self._events:
            await write_outbox(session, self._events)
        # Not session.commit(): it would hand the connection back to the pool before our COMMIT.
        await self._driver.execute("COMMIT")
        self._events = []

    async def _release(self, session: AsyncSession) -> None:
        """Return the connection to the pool, or close it if our transaction is still open
        (a failed or cancelled COMMIT/ROLLBACK): a pooled connection never carries one."""
        driver, self._driver = self._driver, None
        if driver is not None and driver.is_in_transaction():
            await (await session.connection()).invalidate()
        await session.close()

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """The block's writes are undone alone if it raises, the ORM's and the driver's alike
        (the ORM's nested transaction: a SAVEPOINT on the same connection, after which the
        session is usable again even if a flush failed), and so are the events it published:
        they describe writes that never happened."""
        if self._driver is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        published = len(self._events)
        try:
            async with self.session.begin_nested():
                await self.session.connection()  # the SAVEPOINT now, not at the ORM's next use
                yield
        except BaseException:
            del self._events[published:]
            raise

    async def switch_tenant(self, tenant_id: str) -> None:
        """For consumers handling a batch that spans tenants, message by message. The ORM's
        pending changes are flushed first: written later, they would meet the next tenant's
        row-level security (an UPDATE matching no row)."""
        await self.session.flush()
        self.tenant_id = tenant_id
        await (await self.driver()).execute(SET_TENANT, tenant_id)

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
