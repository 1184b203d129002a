"""Opportunities (deals): stage moves are recorded and published; won/lost close the deal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from crm_opportunities.database import insert_row
from crm_opportunities.deals.events import ids_of, publish_updated
from crm_opportunities.deals.models import Opportunity, Order, StageChange
from crm_opportunities.deals.schemas import OpportunityCreate, OpportunityFilters, OpportunityUpdate
from crm_opportunities.pipelines.models import Stage
from crm_opportunities.pipelines.service import get_pipeline
from crm_opportunities.teams.service import Visibility, team_of
from crm_shared.concurrency import check_version
from crm_shared.errors import Forbidden, NotFound, ValidationFailed
from crm_shared.events.opportunities import (
    OpportunityCreated,
    OpportunityLost,
    OpportunityStageChanged,
    OpportunityWon,
)
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

TRACKED = (
    "name",
    "company_id",
    "owner_id",
    "amount",
    "currency",
    "probability",
    "expected_close_date",
    "close_reason",
)


def check_owner(vis: Visibility, owner_id: str) -> None:
    """A rep assigns records to themselves; a manager within their tree; admin to anyone."""
    if not vis.everything and owner_id not in vis.users:
        raise Forbidden(f"You cannot assign records to {owner_id}.")


async def create_opportunity(
    uow: UnitOfWork,
    vis: Visibility,
    data: OpportunityCreate,
    *,
    lead_id: uuid.UUID | None = None,
) -> Opportunity:
    owner_id = data.owner_id or vis.user_id
    check_owner(vis, owner_id)
    pipeline = await get_pipeline(uow, data.pipeline_id)
    if data.stage_id is None:
        stage = pipeline.stages[0]
    else:
        stage = _stage_in(pipeline.stages, data.stage_id, "/stage_id")
    now = datetime.now(UTC)
    opp = Opportunity(
        tenant_id=uow.tenant_id,
        name=data.name,
        person_id=data.person_id,
        company_id=data.company_id,
        owner_id=owner_id,
        team_id=await team_of(uow, owner_id),
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        amount=data.amount,
        currency=data.currency,
        probability_override=data.probability,
        probability=data.probability if data.probability is not None else stage.probability,
        expected_close_date=data.expected_close_date,
        source_campaign_id=data.source_campaign_id,
        lead_id=lead_id,
        status=stage.kind,
        closed_at=now if stage.kind != "open" else None,
    )
    uow.session.add(opp)
    await uow.session.flush()
    uow.session.add(
        StageChange(
            tenant_id=uow.tenant_id,
            opportunity_id=opp.id,
            from_stage_id=None,
            to_stage_id=stage.id,
            changed_at=now,
            changed_by=uow.actor,
        )
    )
    uow.publish(
        OpportunityCreated(
            **ids_of(uow, opp),
            name=opp.name,
            stage_id=str(stage.id),
            source_campaign_id=opp.source_campaign_id,
            expected_close_date=opp.expected_close_date,
        )
    )
    _publish_close(uow, opp, now)
    return opp


async def get_opportunity(
    uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID, *, for_update: bool = False
) -> Opportunity:
    query = select(Opportunity).where(
        Opportunity.id == opp_id,
        Opportunity.deleted_at.is_(None),
        vis.clause(Opportunity.owner_id, Opportunity.team_id),
    )
    opp = await uow.session.scalar(query.with_for_update() if for_update else query)
    if opp is None:  # another owner's deal is as invisible as a missing one
        raise NotFound(f"No opportunity {opp_id}.")
    return opp


async def list_opportunities(
    uow: UnitOfWork, vis: Visibility, f: OpportunityFilters, page: PageParams
) -> list[Opportunity]:
    query = select(Opportunity).where(
        Opportunity.deleted_at.is_(None), vis.clause(Opportunity.owner_id, Opportunity.team_id)
    )
    for name in ("owner_id", "team_id", "pipeline_id", "stage_id", "status", "person_id"):
        value = getattr(f, name)
        if value is not None:
            query = query.where(getattr(Opportunity, name) == value)
    if page.cursor:
        query = query.where(Opportunity.id > uuid.UUID(str(page.cursor[0])))
    query = query.order_by(Opportunity.id).limit(page.limit + 1)
    return list((await uow.session.scalars(query)).all())


async def update_opportunity(
    uow: UnitOfWork,
    vis: Visibility,
    opp_id: uuid.UUID,
    data: OpportunityUpdate,
    *,
    expected_version: int,
) -> Opportunity:
    target = data.stage_id if "stage_id" in data.model_fields_set else None
    opp, stages = await _lock_with_stages(uow, vis, opp_id, target)
    check_version(opp.version, expected_version)
    fields = data.model_fields_set
    stored = {name: getattr(opp, name) for name in OPP_COLUMNS}
    moved = False
    for name in ("name", "amount", "currency"):
        value = getattr(data, name)
        if name in fields:
            if value is None:
                raise _invalid(f"/{name}", "cannot be null")
            setattr(opp, name, value)
    if "company_id" in fields:
        opp.company_id = data.company_id
    if "expected_close_date" in fields:
        opp.expected_close_date = data.expected_close_date
    if "owner_id" in fields:
        if data.owner_id is None:
            raise _invalid("/owner_id", "cannot be null")
        check_owner(vis, data.owner_id)
        if data.owner_id != opp.owner_id:
            opp.owner_id = data.owner_id
            opp.team_id = await team_of(uow, data.owner_id)
    stage = next(s for s in stages if s.id == opp.stage_id)
    if target is not None and target != opp.stage_id:
        new = _stage_in(stages, target, "/stage_id")
        await _move(uow, opp, stage, new, data.reason)
        stage = new
        moved = True
    elif "reason" in fields:
        opp.close_reason = data.reason
    if "probability" in fields:
        opp.probability_override = data.probability
    opp.probability = (
        opp.probability_override if opp.probability_override is not None else stage.probability
    )
    opp.updated_at = datetime.now(UTC)
    await _write_back(uow, opp, stored)
    # A stage move already tells of the probability and reason it implies.
    implied = {"probability", "close_reason"} if moved else set()
    changed = sorted(
        name for name in TRACKED if name not in implied and getattr(opp, name) != stored[name]
    )
    if changed:
        publish_updated(uow, opp, changed)
    return opp


# A stage change (a card dragged across the board) is the deals' hot path: the deal and its
# stages are read, and the deal written back, as fixed SQL on the driver; the logic between
# works on untracked model objects.
OPP_COLUMNS = [c.name for c in Opportunity.__table__.columns]
LOCK_WITH_STAGES = """
    SELECT o.*, s.id AS stage_id_, s.name AS stage_name_, s.position AS stage_position_,
           s.probability AS stage_probability_, s.kind AS stage_kind_
    FROM opportunities o
    JOIN stages s ON s.pipeline_id = o.pipeline_id AND (s.id = o.stage_id OR s.id = $2)
    WHERE o.id = $1 AND o.deleted_at IS NULL
      AND ($3 OR o.owner_id = ANY($4::varchar[]) OR o.team_id = ANY($5::uuid[]))
    FOR UPDATE OF o
"""


async def _lock_with_stages(
    uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID, target: uuid.UUID | None
) -> tuple[Opportunity, list[Stage]]:
    """The deal, locked, with its current stage and `target` when that is a stage of its
    pipeline: one round trip for what a stage change reads."""
    rows = await (await uow.driver()).fetch(
        LOCK_WITH_STAGES, opp_id, target, vis.everything, sorted(vis.users), sorted(vis.teams)
    )
    if not rows:  # another owner's deal is as invisible as a missing one
        raise NotFound(f"No opportunity {opp_id}.")
    opp = Opportunity(**{name: rows[0][name] for name in OPP_COLUMNS})
    stages = [
        Stage(
            id=row["stage_id_"],
            tenant_id=opp.tenant_id,
            pipeline_id=opp.pipeline_id,
            name=row["stage_name_"],
            position=row["stage_position_"],
            probability=row["stage_probability_"],
            kind=row["stage_kind_"],
        )
        for row in rows
    ]
    return opp, stages


async def _write_back(uow: UnitOfWork, opp: Opportunity, before: dict[str, Any]) -> None:
    """UPDATE the columns that changed, as the next version (the row is locked)."""
    changed = [name for name in OPP_COLUMNS if getattr(opp, name) != before[name]]
    sets = "".join(f"{name} = ${n}, " for n, name in enumerate(changed, start=3))
    await (await uow.driver()).execute(
        f"UPDATE opportunities SET {sets}version = version + 1 WHERE id = $1 AND version = $2",
        opp.id,
        opp.version,
        *(getattr(opp, name) for name in changed),
    )
    opp.version += 1


async def _move(
    uow: UnitOfWork, opp: Opportunity, old: Stage, new: Stage, reason: str | None
) -> None:
    now = datetime.now(UTC)
    opp.stage_id = new.id
    opp.status = new.kind
    if new.kind == "open":
        opp.closed_at, opp.close_reason = None, None
    else:
        opp.closed_at, opp.close_reason = now, reason
        # A closed deal is certain either way; any manual override no longer applies.
        opp.probability_override = None
    change = StageChange(
        tenant_id=uow.tenant_id,
        opportunity_id=opp.id,
        from_stage_id=old.id,
        to_stage_id=new.id,
        changed_at=now,
        changed_by=uow.actor,
    )
    await insert_row(uow, change)
    uow.publish(
        OpportunityStageChanged(
            **ids_of(uow, opp),
            from_stage_id=str(old.id),
            to_stage_id=str(new.id),
            changed_at=now,
            changed_by=uow.actor,
        )
    )
    if old.kind != new.kind:
        _publish_close(uow, opp, now)


def _publish_close(uow: UnitOfWork, opp: Opportunity, now: datetime) -> None:
    if opp.status == "won":
        uow.publish(
            OpportunityWon(
                **ids_of(uow, opp),
                won_at=now,
                source_campaign_id=opp.source_campaign_id,
                reason=opp.close_reason,
            )
        )
    elif opp.status == "lost":
        uow.publish(OpportunityLost(**ids_of(uow, opp), lost_at=now, reason=opp.close_reason))


async def stage_history(uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID) -> list[StageChange]:
    await get_opportunity(uow, vis, opp_id)
    query = (
        select(StageChange)
        .where(StageChange.opportunity_id == opp_id)
        .order_by(StageChange.changed_at, StageChange.id)
    )
    return list((await uow.session.scalars(query)).all())


async def orders_of(uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID) -> list[Order]:
    await get_opportunity(uow, vis, opp_id)
    query = select(Order).where(Order.opportunity_id == opp_id).order_by(Order.placed_at)
    return list((await uow.session.scalars(query)).all())


async def win_from_quote(uow: UnitOfWork, opp: Opportunity, reason: str) -> None:
    """Accepting a quote marks its deal won (moves it to the pipeline's first won stage)."""
    if opp.status == "won":
        return
    pipeline = await get_pipeline(uow, opp.pipeline_id)
    won = next((s for s in pipeline.stages if s.kind == "won"), None)
    old = await uow.session.get(Stage, opp.stage_id)
    if won is None or old is None:
        return
    await _move(uow, opp, old, won, reason)
    opp.probability = won.probability
    opp.updated_at = datetime.now(UTC)


def _stage_in(stages: list[Stage], stage_id: uuid.UUID, pointer: str) -> Stage:
    for stage in stages:
        if stage.id == stage_id:
            return stage
    raise _invalid(pointer, "this stage does not belong to the opportunity's pipeline")


def _invalid(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        "One or more fields are invalid.",
        errors=[{"pointer": pointer, "in": "body", "detail": detail}],
    )
