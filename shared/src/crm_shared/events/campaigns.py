"""crm.campaigns.v1: campaigns, touches, surveys, unsubscribes (produced by campaigns)."""

from __future__ import annotations

from crm_shared.events.common import CAMPAIGNS
from crm_shared.events.contacts import ConsentWithdrawn
from crm_shared.events.envelope import EventData


class CampaignConsentWithdrawn(ConsentWithdrawn):
    """An unsubscribe recorded by campaigns; contacts applies it to the consent ledger once."""

    topic = CAMPAIGNS
    description = "An unsubscribe recorded by campaigns."
    campaign_id: str | None = None


EVENTS: list[type[EventData]] = [CampaignConsentWithdrawn]
