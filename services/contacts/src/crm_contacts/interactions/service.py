"""Notes and logged interactions; each reaches the omnichannel timeline as interaction.logged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from crm_contacts.companies.service import get_company
from crm_contacts.interactions.models import Interaction
from crm_contacts.interactions.schemas import InteractionCreate
from crm_contacts.people.service import get_person
from crm_shared.events.catalog import InteractionLogged, SourceRef
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork


async def log_interaction(
    uow: UnitOfWork, person_id: uuid.UUID, data: InteractionCreate
) -> Interaction:
    await get_person(uow, person_id)
    if data.company_id is not None:
        await get_company(uow, data.company_id)
    interaction = Interaction(
        tenant_id=uow.tenant_id,
        person_id=person_id,
        company_id=data.company_id,
        channel=data.channel,
        direction=data.direction,
        kind=data.kind,
        occurred_at=data.occurred_at or datetime.now(UTC),
        summary=data.summary,
        actor_id=uow.actor,
    )
    uow.session.add(interaction)
    await uow.session.flush()
    uow.publish(
        InteractionLogged(
            tenant_id=uow.tenant_id,
            contact_id=str(person_id),
            interaction_id=str(interaction.id),
            company_id=str(data.company_id) if data.company_id else None,
            channel=data.channel,
            direction=data.direction,
            kind=data.kind,
            occurred_at=interaction.occurred_at,
            summary=data.summary,
            actor_id=uow.actor,
            source=SourceRef(service="contacts", entity="interaction", id=str(interaction.id)),
        )
    )
    return interaction


async def list_interactions(
    uow: UnitOfWork, person_id: uuid.UUID, page: PageParams
) -> list[Interaction]:
    """Newest first; the cursor is (occurred_at, id) of the last row."""
    await get_person(uow, person_id, include_deleted=True)
    query = select(Interaction).where(Interaction.person_id == person_id)
    if page.cursor:
        at, last_id = datetime.fromisoformat(page.cursor[0]), uuid.UUID(page.cursor[1])
        query = query.where(
            (Interaction.occurred_at < at)
            | ((Interaction.occurred_at == at) & (Interaction.id < last_id))
        )
    query = query.order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
    return list((await uow.session.scalars(query.limit(page.limit + 1))).all())
