"""Campaigns: lifecycle with valid transitions only, the marketing calendar, audience building
and effectiveness. Functions take a UnitOfWork; routes commit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    DateTime,
    FromClause,
    Integer,
    String,
    Subquery,
    Uuid,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.campaigns.models import (
    AttributedWin,
    Campaign,
    CampaignMember,
    ContactPolicy,
    SendJob,
)
from crm_campaigns.campaigns.schemas import (
    AudienceReport,
    Calendar,
    CalendarEntry,
    CalendarPeriod,
    CampaignCreate,
    CampaignUpdate,
    ContactPolicyBody,
    Effectiveness,
)
from crm_campaigns.projection.models import ProjectedConsent, ProjectedPerson
from crm_campaigns.segments.models import Segment
from crm_campaigns.segments.service import condition, reachable
from crm_campaigns.surveys.models import Survey
from crm_campaigns.touches.models import Touch
from crm_shared.concurrency import check_version
from crm_shared.errors import Conflict, NotFound, Unprocessable
from crm_shared.events.campaigns import (
    CampaignCompleted,
    CampaignDeleted,
    CampaignLaunched,
    CampaignScheduled,
)
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

P = ProjectedPerson.__table__.c
C = ProjectedConsent.__table__.c
M = CampaignMember.__table__.c

TRANSITIONS: dict[str, set[str]] = {
    "draft": {"scheduled", "cancelled"},
    "scheduled": {"draft", "running", "cancelled"},
    "running": {"completed", "cancelled"},
    "completed": set(),
    "cancelled": set(),
}
EDITABLE = {"draft", "scheduled"}
# The consent ledger's channel for each campaign channel (the purpose is always marketing).
CONSENT_CHANNEL = {
    "email": "email",
    "sms": "sms",
    "phone": "phone",
    "social": "social",
    "web": "web",
    "event": "in_person",
    "direct_mail": "post",
}
EXCLUSION_REASONS = (
    "excluded_segment",
    "do_not_contact",
    "no_consent",
    "no_address",
    "preferred_channel",
    "frequency_cap",
)


async def create_campaign(uow: UnitOfWork, data: CampaignCreate) -> Campaign:
    campaign = Campaign(tenant_id=uow.tenant_id, status="draft", honour_preferred_channel=False)
    campaign.segment_ids, campaign.exclude_segment_ids = [], []
    _apply(campaign, data)
    await _check_segments(uow, campaign)
    uow.session.add(campaign)
    await uow.session.flush()
    return campaign


def _apply(campaign: Campaign, data: CampaignCreate | CampaignUpdate) -> None:
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in ("segment_ids", "exclude_segment_ids"):
            value = []
        if value is None and field == "honour_preferred_channel":
            value = False
        setattr(campaign, field, value)
    start, end = campaign.planned_start, campaign.planned_end
    if start and end and end < start:
        raise Unprocessable("planned_end is before planned_start.")


async def _check_segments(uow: UnitOfWork, campaign: Campaign) -> None:
    wanted = set(campaign.segment_ids) | set(campaign.exclude_segment_ids)
    if not wanted:
        return
    found = set((await uow.session.scalars(select(Segment.id).where(Segment.id.in_(wanted)))).all())
    missing = sorted(str(s) for s in wanted - found)
    if missing:
        raise Unprocessable(f"Unknown segments: {', '.join(missing)}.")


async def get_campaign(uow: UnitOfWork, campaign_id: uuid.UUID, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = await uow.session.scalar(query)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} not found.")
    return campaign


async def list_campaigns(
    uow: UnitOfWork, page: PageParams, status: str | None, channel: str | None
) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id).limit(page.limit + 1)
    if status:
        query = query.where(Campaign.status == status)
    if channel:
        query = query.where(Campaign.channel == channel)
    if page.cursor:
        query = query.where(Campaign.id > uuid.UUID(str(page.cursor[0])))
    return list((await uow.session.scalars(query)).all())


async def update_campaign(
    uow: UnitOfWork, campaign_id: uuid.UUID, data: CampaignUpdate, *, expected_version: int
) -> Campaign:
    campaign = await get_campaign(uow, campaign_id)
    check_version(campaign.version, expected_version)
    changes = data.model_fields_set
    if campaign.status not in EDITABLE and changes - {"actual_cost", "goal", "owner_id"}:
        raise Conflict(
            f"A {campaign.status} campaign only takes actual_cost, goal and owner_id changes."
        )
    _apply(campaign, data)
    await _check_segments(uow, campaign)
    await uow.session.flush()
    return campaign


async def transition(
    uow: UnitOfWork, campaign_id: uuid.UUID, target: str, *, expected_version: int
) -> Campaign:
    campaign = await get_campaign(uow, campaign_id)
    check_version(campaign.version, expected_version)
    if target not in TRANSITIONS[campaign.status]:
        allowed = ", ".join(sorted(TRANSITIONS[campaign.status])) or "none"
        raise Conflict(
            f"A {campaign.status} campaign cannot become {target} (allowed: {allowed}).",
            extra={"status": campaign.status, "allowed": sorted(TRANSITIONS[campaign.status])},
        )
    if target == "scheduled" and campaign.planned_start is None:
        raise Conflict("Set planned_start before scheduling.")
    common = {
        "tenant_id": uow.tenant_id,
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "channel": campaign.channel,
    }
    if target == "running":
        if campaign.audience_built_at is None:
            raise Conflict("Build the audience before launching.")
        size = await uow.session.scalar(select(func.count()).where(M.campaign_id == campaign.id))
        await uow.session.execute(
            insert(SendJob)
            .values(campaign_id=campaign.id, tenant_id=uow.tenant_id, created_at=_now())
            .on_conflict_do_nothing()
        )
        uow.publish(CampaignLaunched(**common, audience_size=int(size or 0)))
    elif target == "scheduled":
        uow.publish(
            CampaignScheduled(
                **common,
                planned_start=campaign.planned_start,
                planned_end=campaign.planned_end,
                budget=campaign.budget,
                currency=campaign.currency,
            )
        )
    elif target == "completed":
        uow.publish(
            CampaignCompleted(
                **common, actual_cost=campaign.actual_cost, currency=campaign.currency
            )
        )
    if target in ("completed", "cancelled"):
        await uow.session.execute(
            update(SendJob)
            .where(SendJob.campaign_id == campaign.id, SendJob.finished_at.is_(None))
            .values(finished_at=_now())
        )
    campaign.status = target
    await uow.session.flush()
    return campaign


async def delete_campaign(
    uow: UnitOfWork, campaign_id: uuid.UUID, *, expected_version: int
) -> None:
    """Only a campaign that never went out: a draft, or one cancelled before launch, with no
    touch or win recorded. Anything else is history its reports and attribution rest on."""
    campaign = await get_campaign(uow, campaign_id, lock=True)
    check_version(campaign.version, expected_version)
    if campaign.status not in ("draft", "cancelled"):
        raise Conflict(
            f"A {campaign.status} campaign cannot be deleted: {UNDELETABLE[campaign.status]}",
            extra={"status": campaign.status},
        )
    if await _went_out(uow, campaign.id):
        raise Conflict(
            "This campaign went out (it was launched, or has touches or attributed wins); "
            "it stays for its reports.",
            extra={"status": campaign.status},
        )
    await uow.session.execute(
        update(Survey).where(Survey.campaign_id == campaign.id).values(campaign_id=None)
    )
    uow.publish(
        CampaignDeleted(
            tenant_id=uow.tenant_id,
            campaign_id=str(campaign.id),
            name=campaign.name,
            channel=campaign.channel,
        )
    )
    await uow.session.delete(campaign)  # members and call lists go with it (ON DELETE CASCADE)
    await uow.session.flush()


UNDELETABLE = {
    "scheduled": "move it back to draft first.",
    "running": "cancel it first; a campaign that went out stays for its reports.",
    "completed": "it went out and stays for its reports.",
}


async def _went_out(uow: UnitOfWork, campaign_id: uuid.UUID) -> bool:
    traces = [
        exists().where(SendJob.campaign_id == campaign_id),
        exists().where(Touch.campaign_id == campaign_id),
        exists().where(AttributedWin.campaign_id == campaign_id),
    ]
    return bool(await uow.session.scalar(select(or_(*traces))))


def _now() -> datetime:
    return datetime.now(UTC)


# --- audience -------------------------------------------------------------------------------


async def set_policy(uow: UnitOfWork, body: ContactPolicyBody) -> ContactPolicy:
    stmt = insert(ContactPolicy).values(
        tenant_id=uow.tenant_id, updated_at=_now(), **body.model_dump()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ContactPolicy.tenant_id],
        set_={k: stmt.excluded[k] for k in ("max_touches", "period_days", "updated_at")},
    )
    await uow.session.execute(stmt)
    policy = await uow.session.get(ContactPolicy, uow.tenant_id, populate_existing=True)
    assert policy is not None
    return policy


async def get_policy(uow: UnitOfWork) -> ContactPolicy | None:
    return await uow.session.get(ContactPolicy, uow.tenant_id)


async def delete_policy(uow: UnitOfWork) -> None:
    policy = await get_policy(uow)
    if policy is None:
        raise NotFound("No frequency cap is set for this tenant.")
    await uow.session.delete(policy)


def _has_address(channel: str) -> ColumnElement[bool]:
    if channel == "email":
        return P.email.is_not(None)
    if channel in ("sms", "phone"):
        return P.phone.is_not(None)
    return true()


async def _segments(
    uow: UnitOfWork, ids: list[uuid.UUID], *, all_there: bool = True
) -> list[Segment]:
    """The segments by id; all of them unless told (a finished campaign's may be deleted)."""
    if not ids:
        return []
    rows = list((await uow.session.scalars(select(Segment).where(Segment.id.in_(ids)))).all())
    if all_there and len(rows) != len(set(ids)):
        raise Unprocessable("A segment of this campaign no longer exists.")
    return rows


async def build_audience(uow: UnitOfWork, campaign_id: uuid.UUID) -> AudienceReport:
    """Segments minus exclusions, minus people without granted marketing consent for the
    campaign's channel, minus do-not-contact, minus people without an address for the channel,
    honouring the preferred channel when asked, minus people at the tenant's frequency cap.
    Replaces the previous build; the result is stored as campaign members."""
    campaign = await get_campaign(uow, campaign_id, lock=True)
    if campaign.status not in EDITABLE:
        raise Conflict(f"The audience of a {campaign.status} campaign cannot be rebuilt.")
    includes = await _segments(uow, list(campaign.segment_ids))
    if not includes:
        raise Conflict("Add at least one segment to the campaign before building its audience.")
    excludes = await _segments(uow, list(campaign.exclude_segment_ids))
    # Builds in one tenant serialise, so two campaigns cannot both take a person's last slot.
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('campaign-audience:' || :t))"),
        {"t": uow.tenant_id},
    )
    await uow.session.execute(
        delete(CampaignMember).where(CampaignMember.campaign_id == campaign.id)
    )
    at = campaign.planned_start or _now()
    excluded = or_(*(condition(s) for s in excludes)) if excludes else false()
    consent = exists().where(
        C.tenant_id == P.tenant_id,
        C.contact_id == P.contact_id,
        C.channel == CONSENT_CHANNEL[campaign.channel],
        C.purpose == "marketing",
        C.status == "granted",
    )
    preferred: ColumnElement[bool] = true()
    if campaign.honour_preferred_channel:
        preferred = or_(P.preferred_channel.is_(None), P.preferred_channel == campaign.channel)
    people: FromClause = ProjectedPerson.__table__
    capped: ColumnElement[bool] = false()
    policy = await get_policy(uow)
    if policy is not None:
        at_cap = _at_cap(uow.tenant_id, campaign.id, at, policy)
        people = people.outerjoin(at_cap, at_cap.c.contact_id == P.contact_id)
        capped = at_cap.c.contact_id.is_not(None)
    reason = case(
        (excluded, "excluded_segment"),
        (P.do_not_contact, "do_not_contact"),
        (~consent, "no_consent"),
        (~_has_address(campaign.channel), "no_address"),
        (~preferred, "preferred_channel"),
        (capped, "frequency_cap"),
        else_=None,
    )
    classified = (
        select(P.contact_id, reason.label("reason"))
        .select_from(people)
        .where(reachable(), or_(*(condition(s) for s in includes)))
        .cte("classified")
    )
    members = (
        insert(CampaignMember)
        .from_select(
            ["tenant_id", "campaign_id", "contact_id", "planned_at", "send_status", "attempts"],
            select(
                literal(uow.tenant_id, String),
                literal(campaign.id, Uuid),
                classified.c.contact_id,
                literal(at, DateTime(timezone=True)),
                literal("pending", String),
                literal(0, Integer),
            ).where(classified.c.reason.is_(None)),
        )
        .returning(M.contact_id)
        .cte("members")
    )
    counts = (
        select(classified.c.reason, func.count())
        .group_by(classified.c.reason)
        .union_all(select(literal("__members__", String), func.count()).select_from(members))
    )
    rows = (await uow.session.execute(counts)).all()
    by_reason: dict[str | None, int] = {r[0]: int(r[1]) for r in rows}
    stored = by_reason.pop("__members__", 0)
    report = AudienceReport(
        candidates=sum(by_reason.values()),
        members=stored,
        excluded={r: by_reason.get(r, 0) for r in EXCLUSION_REASONS},
    )
    campaign.audience_report = report.model_dump()
    campaign.audience_built_at = _now()
    await uow.session.flush()
    return report


def _at_cap(
    tenant_id: str, campaign_id: uuid.UUID, at: datetime, policy: ContactPolicy
) -> Subquery:
    """People other campaigns (not cancelled) already plan to touch `max_touches` times within
    the period around `at`. One grouped pass, joined to the people: a count per person instead
    turns quadratic when the planner believes campaign_members is nearly empty (statistics
    not yet caught up with a large build)."""
    other = CampaignMember.__table__.alias("other")
    window = timedelta(days=policy.period_days)
    return (
        select(other.c.contact_id)
        .select_from(other.join(Campaign, Campaign.id == other.c.campaign_id))
        .where(
            other.c.tenant_id == tenant_id,
            other.c.campaign_id != campaign_id,
            other.c.send_status != "suppressed",
            Campaign.status != "cancelled",
            other.c.planned_at > at - window,
            other.c.planned_at < at + window,
        )
        .group_by(other.c.contact_id)
        .having(func.count() >= policy.max_touches)
        .subquery("at_cap")
    )


async def list_members(
    uow: UnitOfWork, campaign_id: uuid.UUID, page: PageParams
) -> list[CampaignMember]:
    await get_campaign(uow, campaign_id)
    query = (
        select(CampaignMember)
        .where(CampaignMember.campaign_id == campaign_id)
        .order_by(CampaignMember.contact_id)
        .limit(page.limit + 1)
    )
    if page.cursor:
        query = query.where(CampaignMember.contact_id > uuid.UUID(str(page.cursor[0])))
    return list((await uow.session.scalars(query)).all())


# --- calendar -------------------------------------------------------------------------------


def _period_start(day: date, group_by: str) -> date:
    if group_by == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(start: date, group_by: str) -> date:
    if group_by == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


async def calendar(
    uow: UnitOfWork, start: date, end: date, group_by: Literal["week", "month"]
) -> Calendar:
    """Campaigns planned over [start, end], in every week or month they span; a campaign
    conflicts with another on the same channel whose dates overlap and whose audience
    overlaps (shared members once built, otherwise a shared segment)."""
    if end < start:
        raise Unprocessable("`to` is before `from`.")
    if (end - start).days > 366 * 2:
        raise Unprocessable("The calendar spans at most two years.")
    lo = datetime.combine(start, datetime.min.time(), UTC)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    campaigns = list(
        (
            await uow.session.scalars(
                select(Campaign)
                .where(
                    Campaign.status != "cancelled",
                    Campaign.planned_start.is_not(None),
                    Campaign.planned_start < hi,
                    func.coalesce(Campaign.planned_end, Campaign.planned_start) >= lo,
                )
                .order_by(Campaign.planned_start, Campaign.id)
            )
        ).all()
    )
    conflicts: dict[uuid.UUID, list[uuid.UUID]] = {c.id: [] for c in campaigns}
    for i, a in enumerate(campaigns):
        for b in campaigns[i + 1 :]:
            if (
                a.channel == b.channel
                and _dates_overlap(a, b)
                and await _audiences_overlap(uow, a, b)
            ):
                conflicts[a.id].append(b.id)
                conflicts[b.id].append(a.id)
    periods: dict[date, list[CalendarEntry]] = {}
    for c in campaigns:
        assert c.planned_start is not None
        first = max(c.planned_start.date(), start)
        last = min((c.planned_end or c.planned_start).date(), end)
        period = _period_start(first, group_by)
        entry = CalendarEntry(
            id=c.id,
            name=c.name,
            channel=c.channel,
            status=c.status,
            planned_start=c.planned_start,
            planned_end=c.planned_end,
            conflicts_with=conflicts[c.id],
        )
        while period <= last:
            periods.setdefault(period, []).append(entry)
            period = _next_period(period, group_by)
    return Calendar(
        group_by=group_by,
        periods=[CalendarPeriod(period_start=p, campaigns=periods[p]) for p in sorted(periods)],
    )


def _dates_overlap(a: Campaign, b: Campaign) -> bool:
    assert a.planned_start is not None and b.planned_start is not None
    a_end, b_end = a.planned_end or a.planned_start, b.planned_end or b.planned_start
    return a.planned_start <= b_end and b.planned_start <= a_end


async def _audiences_overlap(uow: UnitOfWork, a: Campaign, b: Campaign) -> bool:
    if a.audience_built_at and b.audience_built_at:
        other = CampaignMember.__table__.alias("other")
        shared = exists().where(
            M.campaign_id == a.id,
            other.c.campaign_id == b.id,
            other.c.tenant_id == M.tenant_id,
            other.c.contact_id == M.contact_id,
        )
        return bool(await uow.session.scalar(select(shared)))
    return bool(set(a.segment_ids) & set(b.segment_ids))


# --- effectiveness --------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def effectiveness(uow: UnitOfWork, campaign_id: uuid.UUID) -> Effectiveness:
    """Rates are over people sent to, except open and click rates (over delivered);
    conversions are opportunities won with this campaign as their source; ROI is
    (revenue attributed - actual cost) / actual cost."""
    campaign = await get_campaign(uow, campaign_id)
    rows = await _measures(uow, Campaign.id == campaign.id)
    return rows[0] if rows else _effectiveness(campaign.id, None, (0,) * 8, 0, Decimal(0), None)


async def effectiveness_by_channel(uow: UnitOfWork) -> list[Effectiveness]:
    """The same measures summed over every campaign (not cancelled) of each channel."""
    return await _measures(uow, Campaign.status != "cancelled", by_channel=True)


async def effectiveness_by_segment(uow: UnitOfWork, campaign_id: uuid.UUID) -> list[Effectiveness]:
    """The campaign's measures for the members each of its segments matches (segments are
    evaluated over the projection as it is now; a segment deleted since is left out); the
    actual cost is shared out in proportion to each segment's part of the audience."""
    campaign = await get_campaign(uow, campaign_id)
    total = int(
        await uow.session.scalar(select(func.count()).where(M.campaign_id == campaign.id)) or 0
    )
    people = CampaignMember.__table__.join(
        ProjectedPerson.__table__, and_(P.tenant_id == M.tenant_id, P.contact_id == M.contact_id)
    )
    result = []
    for segment in await _segments(uow, list(campaign.segment_ids), all_there=False):
        matches = condition(segment)
        row = (
            await uow.session.execute(
                select(*_member_counts())
                .select_from(people)
                .where(M.campaign_id == campaign.id, matches)
            )
        ).one()
        measures = tuple(int(v) for v in row)
        wins = (
            await uow.session.execute(
                select(func.count(), func.coalesce(func.sum(AttributedWin.amount), 0))
                .select_from(AttributedWin)
                .join(
                    ProjectedPerson.__table__,
                    and_(
                        P.tenant_id == AttributedWin.tenant_id,
                        cast(P.contact_id, String) == AttributedWin.contact_id,
                    ),
                )
                .where(AttributedWin.campaign_id == campaign.id, matches)
            )
        ).one()
        cost = campaign.actual_cost
        share = (
            (cost * measures[0] / total).quantize(Decimal("0.01"))
            if cost is not None and total
            else None
        )
        item = _effectiveness(
            campaign.id, campaign.channel, measures, int(wins[0]), Decimal(wins[1] or 0), share
        )
        result.append(item.model_copy(update={"segment_id": segment.id}))
    return result


def _member_counts() -> list[ColumnElement[int]]:
    """Audience, sent, delivered, opened, clicked, responded, bounced, unsubscribed."""
    return [
        func.count(column)
        for column in (
            M.contact_id,
            M.sent_at,
            M.delivered_at,
            M.opened_at,
            M.clicked_at,
            M.responded_at,
            M.bounced_at,
            M.unsubscribed_at,
        )
    ]


async def _measures(
    uow: UnitOfWork, where: ColumnElement[bool], *, by_channel: bool = False
) -> list[Effectiveness]:
    key = Campaign.channel if by_channel else Campaign.id
    counts = (
        select(
            key.label("k"),
            *_member_counts(),
        )
        .select_from(Campaign)
        .outerjoin(CampaignMember, CampaignMember.campaign_id == Campaign.id)
        .where(where)
        .group_by(key)
    )
    wins = (
        select(key.label("k"), func.count(), func.coalesce(func.sum(AttributedWin.amount), 0))
        .select_from(AttributedWin)
        .join(Campaign, Campaign.id == AttributedWin.campaign_id)
        .where(where)
        .group_by(key)
    )
    costs = select(key.label("k"), func.sum(Campaign.actual_cost)).where(where).group_by(key)
    won = {r[0]: (int(r[1]), Decimal(r[2] or 0)) for r in (await uow.session.execute(wins)).all()}
    spent = {r[0]: r[1] for r in (await uow.session.execute(costs)).all()}
    result = []
    for row in (await uow.session.execute(counts)).all():
        k: Any = row[0]
        conversions, revenue = won.get(k, (0, Decimal(0)))
        measures = tuple(int(v) for v in row[1:])
        result.append(
            _effectiveness(
                None if by_channel else k,
                k if by_channel else None,
                measures,
                conversions,
                revenue,
                spent.get(k),
            )
        )
    return result


def _effectiveness(
    campaign_id: uuid.UUID | None,
    channel: str | None,
    measures: tuple[int, ...],
    conversions: int,
    revenue: Decimal,
    cost: Decimal | None,
) -> Effectiveness:
    audience, sent, delivered, opened, clicked, responded, bounced, unsubscribed = measures
    return Effectiveness(
        campaign_id=campaign_id,
        channel=channel,
        audience=audience,
        sent=sent,
        delivered=delivered,
        opened=opened,
        clicked=clicked,
        responded=responded,
        bounced=bounced,
        unsubscribed=unsubscribed,
        delivery_rate=_rate(delivered, sent),
        open_rate=_rate(opened, delivered),
        click_rate=_rate(clicked, delivered),
        response_rate=_rate(responded, sent),
        conversions=conversions,
        conversion_rate=_rate(conversions, sent),
        revenue_attributed=revenue,
        cost=cost,
        cost_per_response=(cost / responded).quantize(Decimal("0.01"))
        if cost is not None and responded
        else None,
        roi=round(float((revenue - cost) / cost), 4) if cost else None,
    )


def report_dict(report: AudienceReport) -> dict[str, Any]:
    return report.model_dump()
