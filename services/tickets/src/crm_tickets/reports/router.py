"""Operational measures per queue or agent: first-response time, resolution time, SLA
compliance, backlog and CSAT average, for a period.

Definitions (times are wall-clock seconds, averaged over the tickets they apply to):
- first_response_seconds_avg: first public agent reply - creation, for tickets first answered
  in the period;
- resolution_seconds_avg: solved - created, for tickets solved in the period;
- sla_compliance: targets met / targets decided in the period (a target is decided when it
  stops, met or not, or when it breaches), null when none was decided;
- backlog: tickets new, open, pending or on hold now;
- csat_average: mean score of the ratings submitted in the period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import and_, or_, select

from crm_shared.errors import ValidationFailed
from crm_shared.web import UoW
from crm_tickets.permissions import Reader
from crm_tickets.queues.service import ACTIVE
from crm_tickets.sla.models import SlaTimer
from crm_tickets.tickets.models import Csat, Ticket

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class GroupMeasures(BaseModel):
    key: str | None
    first_response_seconds_avg: float | None
    resolution_seconds_avg: float | None
    sla_compliance: float | None
    backlog: int
    csat_average: float | None
    solved: int


class ServiceReport(BaseModel):
    group_by: Literal["queue", "agent"]
    since: datetime
    until: datetime
    groups: list[GroupMeasures]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


@router.get("/service", response_model=ServiceReport, summary="Service measures for a period")
async def service_report(
    uow: UoW,
    _: Reader,
    since: Annotated[AwareDatetime, Query()],
    until: Annotated[AwareDatetime, Query()],
    group_by: Annotated[Literal["queue", "agent"], Query()] = "queue",
) -> ServiceReport:
    if until <= since:
        raise ValidationFailed(
            "`until` must be after `since`.",
            errors=[{"pointer": "/until", "in": "query", "detail": "must be after since"}],
        )
    column = Ticket.queue_id if group_by == "queue" else Ticket.assignee_id
    first: dict[str | None, list[float]] = defaultdict(list)
    resolution: dict[str | None, list[float]] = defaultdict(list)
    decided: dict[str | None, list[bool]] = defaultdict(list)
    scores: dict[str | None, list[float]] = defaultdict(list)
    backlog: dict[str | None, int] = defaultdict(int)
    async with uow:
        tickets = await uow.session.execute(
            select(
                column,
                Ticket.status,
                Ticket.created_at,
                Ticket.first_responded_at,
                Ticket.solved_at,
            ).where(
                Ticket.merged_into_id.is_(None),
                or_(
                    Ticket.status.in_(ACTIVE),
                    Ticket.first_responded_at.between(since, until),
                    Ticket.solved_at.between(since, until),
                ),
            )
        )
        for key, status, created, responded, solved in tickets:
            k = str(key) if key is not None else None
            if status in ACTIVE:
                backlog[k] += 1
            if responded is not None and since <= responded < until:
                first[k].append((responded - created).total_seconds())
            if solved is not None and since <= solved < until:
                resolution[k].append((solved - created).total_seconds())
        timers = await uow.session.execute(
            select(column, SlaTimer.met, SlaTimer.breached_at, SlaTimer.stopped_at)
            .join(Ticket, Ticket.id == SlaTimer.ticket_id)
            .where(
                SlaTimer.tenant_id == uow.tenant_id,
                or_(
                    and_(SlaTimer.stopped_at >= since, SlaTimer.stopped_at < until),
                    and_(
                        SlaTimer.stopped_at.is_(None),
                        SlaTimer.breached_at >= since,
                        SlaTimer.breached_at < until,
                    ),
                ),
            )
        )
        for key, met, breached, _stopped in timers:
            decided[str(key) if key is not None else None].append(bool(met) and breached is None)
        ratings = await uow.session.execute(
            select(column, Csat.score)
            .join(Ticket, Ticket.id == Csat.ticket_id)
            .where(Csat.submitted_at >= since, Csat.submitted_at < until)
        )
        for key, score in ratings:
            scores[str(key) if key is not None else None].append(float(score))
    keys = set(first) | set(resolution) | set(decided) | set(scores) | set(backlog)
    groups = [
        GroupMeasures(
            key=k,
            first_response_seconds_avg=_mean(first[k]),
            resolution_seconds_avg=_mean(resolution[k]),
            sla_compliance=round(sum(decided[k]) / len(decided[k]), 4) if decided[k] else None,
            backlog=backlog[k],
            csat_average=_mean(scores[k]),
            solved=len(resolution[k]),
        )
        for k in sorted(keys, key=lambda x: (x is None, x or ""))
    ]
    return ServiceReport(group_by=group_by, since=since, until=until, groups=groups)
