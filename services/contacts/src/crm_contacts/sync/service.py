"""The offline sync feed.

Triggers write one `changes` row per insert/update/delete of a person, company or role, with
the writing transaction's id (`xid8`). A reader returns only rows of transactions that have
finished: every xid below a horizon (the oldest transaction still running in this database,
see `_horizon`) has committed or aborted, and the committed ones are visible to every later
snapshot. Rows are returned in `(xid, seq)` order and the token is the last `(xid, seq)`
delivered. A transaction still open at read time holds the horizon at or below its own
xid, so nothing at or after it is delivered yet; any transaction that commits later has an
xid at least that horizon, hence greater than every delivered xid: no change is ever
skipped, however out of start order transactions commit.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
from sqlalchemy import select, text

from crm_contacts.companies.models import Company, Role
from crm_contacts.companies.schemas import CompanyRead, RoleRead
from crm_contacts.people.models import Person
from crm_contacts.people.service import to_read
from crm_contacts.sync.retention import check_token
from crm_contacts.sync.schemas import Change, ChangesPage
from crm_shared.errors import ValidationFailed
from crm_shared.uow import UnitOfWork

START = (0, 0)

PAGE = text(
    """
    SELECT xid::text::bigint AS xid, seq, entity, entity_id, op
    FROM changes
    WHERE xid < CAST(CAST(:horizon AS text) AS xid8)
      AND (xid, seq) > (CAST(CAST(:after_xid AS text) AS xid8), :after_seq)
    ORDER BY xid, seq
    LIMIT :limit
    """
)


HORIZON = text(
    """
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
           array(SELECT backend_xid::text FROM pg_stat_activity
                 WHERE datname = current_database() AND backend_xid IS NOT NULL) AS running
    """
)


async def _horizon(uow: UnitOfWork) -> str:
    """The first xid8 whose transaction may still be running in this database.

    `pg_snapshot_xmin` would be exact but is cluster-wide: a transaction open in another
    service's database would hold this feed back. So: the snapshot's xmax (every xid below it
    was assigned before this statement began; later ones are above it) lowered to the oldest
    xid still running in this database (pg_stat_activity, read after the snapshot: a
    transaction that was running and has finished since is committed and visible to the next
    statement). Running xids are 32-bit: they are placed relative to xmax (wraparound-safe)."""
    row = (await uow.session.execute(HORIZON)).one()
    xmax = int(row.xmax)
    horizon = xmax
    for xid in row.running:
        behind = (xmax - int(xid)) % (1 << 32)  # modulo-2^32 distance below xmax
        if 0 < behind < (1 << 31):  # else assigned after the snapshot: already >= xmax
            horizon = min(horizon, xmax - behind)
    return str(horizon)


def encode_token(xid: int, seq: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([xid, seq])).decode().rstrip("=")


def decode_token(token: str | None) -> tuple[int, int]:
    if not token:
        return START
    try:
        value: Any = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        value = None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise ValidationFailed(
            "The sync token is not valid.",
            errors=[{"pointer": "/since", "in": "query", "detail": "malformed token"}],
        )
    return int(value[0]), int(value[1])


async def changes_since(uow: UnitOfWork, token: str | None, limit: int) -> ChangesPage:
    after_xid, after_seq = decode_token(token)
    if token:
        await check_token(uow, after_xid, after_seq)
    session = uow.session
    horizon = await _horizon(uow)
    rows = (
        await session.execute(
            PAGE,
            {
                "horizon": horizon,
                "after_xid": str(after_xid),
                "after_seq": after_seq,
                "limit": limit,
            },
        )
    ).all()
    if not rows:
        return ChangesPage(
            changes=[], next_token=encode_token(after_xid, after_seq), has_more=False
        )
    last = rows[-1]
    # Several changes of one record in a page become one: its current state.
    latest: dict[tuple[str, uuid.UUID], str] = {}
    for row in rows:
        latest.pop((row.entity, row.entity_id), None)
        latest[(row.entity, row.entity_id)] = row.op
    current = await _current(uow, latest)
    changes = []
    for (entity, entity_id), op in latest.items():
        data = current.get((entity, entity_id))
        if data is None:
            op = "delete"
        changes.append(
            Change(entity=entity, id=entity_id, op=op, data=data if op == "upsert" else None)
        )
    return ChangesPage(
        changes=changes, next_token=encode_token(last.xid, last.seq), has_more=len(rows) == limit
    )


async def _current(
    uow: UnitOfWork, keys: dict[tuple[str, uuid.UUID], str]
) -> dict[tuple[str, uuid.UUID], Any]:
    """The records still alive now, by (entity, id)."""
    ids: dict[str, list[uuid.UUID]] = {"person": [], "company": [], "role": []}
    for entity, entity_id in keys:
        ids[entity].append(entity_id)
    found: dict[tuple[str, uuid.UUID], Any] = {}
    session = uow.session
    if ids["person"]:
        query = select(Person).where(Person.id.in_(ids["person"]), Person.deleted_at.is_(None))
        for person in (await session.scalars(query)).all():
            found[("person", person.id)] = to_read(person)
    if ids["company"]:
        query_c = select(Company).where(
            Company.id.in_(ids["company"]), Company.deleted_at.is_(None)
        )
        for company in (await session.scalars(query_c)).all():
            found[("company", company.id)] = CompanyRead.model_validate(company)
    if ids["role"]:
        for role in (await session.scalars(select(Role).where(Role.id.in_(ids["role"])))).all():
            found[("role", role.id)] = RoleRead.model_validate(role)
    return found
