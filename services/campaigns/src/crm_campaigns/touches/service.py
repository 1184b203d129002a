"""Touches: provider callbacks (and the sender's own `sent`), recorded once per provider event
id. Each new touch updates the member, and is published as `campaign.touch_recorded` and as an
`interaction.logged` for the timeline; an unsubscribe also withdraws marketing consent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import get_args

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.campaigns.models import Campaign, CampaignMember
from crm_campaigns.campaigns.service import CONSENT_CHANNEL, get_campaign
from crm_campaigns.projection.service import apply_consent
from crm_campaigns.touches.models import Touch
from crm_campaigns.touches.schemas import TouchCreate
from crm_shared.errors import Unprocessable
from crm_shared.events.campaigns import (
    CampaignConsentWithdrawn,
    CampaignInteractionLogged,
    CampaignTouchRecorded,
)
from crm_shared.events.catalog import Channel, SourceRef
from crm_shared.ids import uuid7
from crm_shared.uow import UnitOfWork

TIMELINE_CHANNEL: dict[str, Channel] = {
    "email": "email",
    "sms": "sms",
    "phone": "phone",
    "social": "social",
    "web": "web",
    "event": "in_person",
    "direct_mail": "letter",
}
INBOUND = {"opened", "clicked", "responded", "unsubscribed"}
assert set(TIMELINE_CHANNEL.values()) <= set(get_args(Channel))


async def record_touch(
    uow: UnitOfWork,
    campaign: Campaign,
    contact_id: uuid.UUID,
    kind: str,
    *,
    provider_event_id: str,
    occurred_at: datetime | None = None,
    url: str | None = None,
) -> tuple[Touch, bool]:
    """The touch and whether it is new (False: a duplicate callback, nothing changed)."""
    at = occurred_at or datetime.now(UTC)
    channel = TIMELINE_CHANNEL[campaign.channel]
    touch_id, recorded_at = uuid7(), datetime.now(UTC)
    inserted = await uow.session.scalar(
        insert(Touch)
        .values(
            id=touch_id,
            tenant_id=uow.tenant_id,
            provider_event_id=provider_event_id,
            campaign_id=campaign.id,
            contact_id=contact_id,
            kind=kind,
            channel=channel,
            occurred_at=at,
            url=url,
            recorded_at=recorded_at,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "provider_event_id"])
        .returning(Touch.id)
    )
    if inserted is None:
        existing = await uow.session.scalar(
            select(Touch).where(Touch.provider_event_id == provider_event_id)
        )
        assert existing is not None
        return existing, False
    column = getattr(CampaignMember, f"{kind}_at")
    await uow.session.execute(
        update(CampaignMember)
        .where(
            CampaignMember.tenant_id == uow.tenant_id,
            CampaignMember.campaign_id == campaign.id,
            CampaignMember.contact_id == contact_id,
        )
        .values({column: func.coalesce(column, at)})
    )
    common = {"tenant_id": uow.tenant_id, "contact_id": str(contact_id)}
    uow.publish(
        CampaignTouchRecorded(
            **common,
            campaign_id=str(campaign.id),
            touch_id=str(touch_id),
            kind=kind,
            channel=channel,
            occurred_at=at,
            url=url,
        )
    )
    uow.publish(
        CampaignInteractionLogged(
            **common,
            interaction_id=str(touch_id),
            channel=channel,
            direction="inbound" if kind in INBOUND else "outbound",
            kind="campaign_touch",
            occurred_at=at,
            summary=f"{campaign.name}: {kind}",
            source=SourceRef(service="campaigns", entity="campaign", id=str(campaign.id)),
            campaign_id=str(campaign.id),
        )
    )
    if kind == "unsubscribed":
        consent_channel = CONSENT_CHANNEL[campaign.channel]
        uow.publish(
            CampaignConsentWithdrawn(
                **common,
                channel=consent_channel,
                purpose="marketing",
                source="unsubscribe",
                captured_at=at,
                campaign_id=str(campaign.id),
            )
        )
        # Applied locally at once, so no audience built before contacts echoes it includes them.
        await apply_consent(uow, str(contact_id), consent_channel, "marketing", "withdrawn", at)
    touch = Touch(
        id=touch_id,
        tenant_id=uow.tenant_id,
        provider_event_id=provider_event_id,
        campaign_id=campaign.id,
        contact_id=contact_id,
        kind=kind,
        channel=channel,
        occurred_at=at,
        url=url,
        recorded_at=recorded_at,
    )
    return touch, True


async def intake(
    uow: UnitOfWork,
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    kind: str,
    *,
    provider_event_id: str,
    occurred_at: datetime | None,
    url: str | None,
    campaigns: dict[uuid.UUID, Campaign] | None = None,
    pointer: str = "",
) -> tuple[Touch, bool]:
    cache = {} if campaigns is None else campaigns
    campaign = cache.get(campaign_id) or await get_campaign(uow, campaign_id)
    cache[campaign_id] = campaign
    is_member = await uow.session.scalar(
        select(CampaignMember.contact_id).where(
            CampaignMember.tenant_id == uow.tenant_id,
            CampaignMember.campaign_id == campaign_id,
            CampaignMember.contact_id == contact_id,
        )
    )
    if is_member is None:
        raise Unprocessable(
            "This person is not a member of the campaign.",
            errors=[{"pointer": f"{pointer}/contact_id", "detail": "not a campaign member"}],
        )
    return await record_touch(
        uow,
        campaign,
        contact_id,
        kind,
        provider_event_id=provider_event_id,
        occurred_at=occurred_at,
        url=url,
    )


async def intake_batch(uow: UnitOfWork, touches: list[TouchCreate]) -> tuple[int, int]:
    """All or nothing: one bad callback (unknown campaign, not a member) rejects the batch."""
    campaigns: dict[uuid.UUID, Campaign] = {}
    recorded = 0
    for index, item in enumerate(touches):
        _, created = await intake(
            uow,
            item.campaign_id,
            item.contact_id,
            item.kind,
            provider_event_id=item.provider_event_id,
            occurred_at=item.occurred_at,
            url=item.url,
            campaigns=campaigns,
            pointer=f"/touches/{index}",
        )
        recorded += created
    return recorded, len(touches) - recorded
