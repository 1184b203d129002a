"""Customer 360: one read over the projections for one person."""

from __future__ import annotations

import statistics

from sqlalchemy import func, select

from crm_analytics.customers.schemas import (
    Amount,
    ChannelCount,
    ConsentState,
    Customer360,
    OpenOpportunities,
    Profile,
    Scores,
)
from crm_analytics.measures.formulas import loyalty_type
from crm_analytics.projections.models import (
    Consent,
    Contact,
    ContactCompany,
    Csat,
    CustomerScore,
    Invoice,
    Opportunity,
    Order,
    SurveyAnswer,
    Ticket,
    TimelineEntry,
)
from crm_analytics.projections.service import resolve
from crm_shared.errors import NotFound
from crm_shared.uow import UnitOfWork

CLOSED_TICKET = ("solved", "closed")


async def customer_360(uow: UnitOfWork, requested_id: str) -> Customer360:
    s = uow.session
    contact_id = await resolve(uow, requested_id)
    contact = await s.scalar(select(Contact).where(Contact.contact_id == contact_id))
    first, last, entries, _touchpoints = (
        await s.execute(
            select(
                func.min(TimelineEntry.occurred_at).filter(TimelineEntry.direction.is_not(None)),
                func.max(TimelineEntry.occurred_at).filter(TimelineEntry.direction.is_not(None)),
                func.count(),
                func.count(TimelineEntry.direction),
            ).where(TimelineEntry.contact_id == contact_id)
        )
    ).one()
    if contact is None and not entries:
        raise NotFound(f"No customer {requested_id} is known to analytics.")
    profile = None
    if contact is not None:
        companies = await s.scalars(
            select(ContactCompany.company_id).where(ContactCompany.contact_id == contact_id)
        )
        profile = Profile(
            first_name=contact.first_name,
            last_name=contact.last_name,
            primary_email=contact.primary_email,
            lifecycle_stage=contact.lifecycle_stage,
            owner_id=contact.owner_id,
            company_ids=sorted(companies),
            erased=contact.erased_at is not None,
        )
    channels = await s.execute(
        select(TimelineEntry.channel, func.count())
        .where(
            TimelineEntry.contact_id == contact_id,
            TimelineEntry.channel.is_not(None),
            TimelineEntry.direction.is_not(None),
        )
        .group_by(TimelineEntry.channel)
        .order_by(func.count().desc(), TimelineEntry.channel)
    )
    open_tickets = await s.scalar(
        select(func.count()).where(
            Ticket.contact_id == contact_id, Ticket.status.not_in(CLOSED_TICKET)
        )
    )
    open_opps = await s.execute(
        select(Opportunity.currency, func.count(), func.sum(Opportunity.amount))
        .where(Opportunity.contact_id == contact_id, Opportunity.status == "open")
        .group_by(Opportunity.currency)
    )
    opp_rows = open_opps.all()
    revenue = await s.execute(
        select(Order.currency, func.sum(Order.total))
        .where(
            Order.contact_id == contact_id,
            Order.cancelled_at.is_(None),
            Order.total.is_not(None),
        )
        .group_by(Order.currency)
        .order_by(Order.currency)
    )
    invoices = await s.execute(
        select(Invoice.currency, func.sum(Invoice.amount))
        .where(Invoice.contact_id == contact_id)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    score = await s.scalar(select(CustomerScore).where(CustomerScore.contact_id == contact_id))
    consents = await s.scalars(
        select(Consent)
        .where(Consent.contact_id == contact_id)
        .order_by(Consent.channel, Consent.purpose)
    )
    return Customer360(
        contact_id=contact_id,
        profile=profile,
        first_interaction_at=first,
        last_interaction_at=last,
        channels=[ChannelCount(channel=c, count=n) for c, n in channels],
        open_tickets=open_tickets or 0,
        open_opportunities=OpenOpportunities(
            count=sum(n for _, n, _ in opp_rows),
            amounts=[Amount(currency=c, amount=a) for c, _, a in opp_rows if c and a is not None],
        ),
        lifetime_revenue=[Amount(currency=c or "", amount=a) for c, a in revenue],
        invoices_paid=[Amount(currency=c, amount=a) for c, a in invoices],
        scores=_scores(score),
        loyalty_type=await customer_loyalty_type(uow, contact_id),
        consents=[
            ConsentState(
                channel=c.channel, purpose=c.purpose, status=c.status, captured_at=c.captured_at
            )
            for c in consents
        ],
    )


def _scores(score: CustomerScore | None) -> Scores | None:
    if score is None:
        return None
    return Scores(
        recency_days=score.recency_days,
        frequency=score.frequency,
        monetary=score.monetary,
        r=score.r_score,
        f=score.f_score,
        m=score.m_score,
        rfm_segment=score.rfm_segment,
        value_tier=score.value_tier,
        historic_clv=score.historic_clv,
        predicted_clv=score.predicted_clv,
        churn_probability=None if score.p_alive is None else round(1 - score.p_alive, 4),
        computed_at=score.computed_at,
    )


async def customer_loyalty_type(uow: UnitOfWork, contact_id: str) -> str | None:
    s = uow.session
    ratings = list(await s.scalars(select(Csat.score).where(Csat.contact_id == contact_id)))
    ratings += [
        v
        for v in await s.scalars(
            select(SurveyAnswer.satisfaction).where(SurveyAnswer.contact_id == contact_id)
        )
        if v is not None
    ]
    if not ratings:
        return None
    orders = await s.scalar(
        select(func.count()).where(Order.contact_id == contact_id, Order.cancelled_at.is_(None))
    )
    return loyalty_type(statistics.fmean(ratings), orders or 0)
