"""crm.campaigns.v1: campaigns, touches, surveys, unsubscribes (produced by campaigns).

Fields may be added (additively) by the campaigns service; none may be renamed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from crm_shared.events.common import CAMPAIGNS, Channel
from crm_shared.events.contacts import ConsentWithdrawn, InteractionLogged
from crm_shared.events.envelope import EventData

TouchKind = Literal[
    "sent", "delivered", "opened", "clicked", "bounced", "responded", "unsubscribed"
]


class CampaignConsentWithdrawn(ConsentWithdrawn):
    """An unsubscribe recorded by campaigns; contacts applies it to the consent ledger once."""

    topic = CAMPAIGNS
    description = "An unsubscribe recorded by campaigns."
    campaign_id: str | None = None


class CampaignInteractionLogged(InteractionLogged):
    """A campaign touch on the omnichannel timeline (same shape as contacts' interaction.logged,
    published on the campaigns topic)."""

    topic = CAMPAIGNS
    description = "A campaign touch, for the customer's omnichannel timeline."
    campaign_id: str | None = None


class _CampaignEvent(EventData):
    topic = CAMPAIGNS
    key_field = "campaign_id"
    campaign_id: str
    name: str
    channel: str


class CampaignScheduled(_CampaignEvent):
    type = "crm.campaign.scheduled"
    description = "A campaign was scheduled."
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    budget: Decimal | None = None
    currency: str | None = None


class CampaignLaunched(_CampaignEvent):
    type = "crm.campaign.launched"
    description = "A campaign started running."
    audience_size: int | None = None


class CampaignCompleted(_CampaignEvent):
    type = "crm.campaign.completed"
    description = "A campaign finished."
    actual_cost: Decimal | None = None
    currency: str | None = None


class CampaignDeleted(_CampaignEvent):
    type = "crm.campaign.deleted"
    description = "A campaign that never went out (draft, or cancelled before launch) was deleted."


class CampaignTouchRecorded(EventData):
    type = "crm.campaign.touch_recorded"
    topic = CAMPAIGNS
    key_field = "contact_id"
    description = "A campaign touched a person (sent, delivered, opened, clicked, ...)."
    contact_id: str
    campaign_id: str
    touch_id: str
    kind: TouchKind
    channel: Channel
    occurred_at: datetime
    url: str | None = None


class SurveyAnswered(EventData):
    """Loyalty and NPS inputs: `repurchase_intent` feeds the standard and strengthened loyalty
    indexes (unconditional / conditional / none), `nps_score` 0-10 the NPS."""

    type = "crm.survey.answered"
    topic = CAMPAIGNS
    key_field = "contact_id"
    description = "A person answered a survey."
    contact_id: str
    survey_id: str
    response_id: str
    answered_at: datetime
    nps_score: int | None = None
    satisfaction: int | None = None  # 1-5
    repurchase_intent: Literal["unconditional", "conditional", "none"] | None = None


EVENTS: list[type[EventData]] = [
    CampaignConsentWithdrawn,
    CampaignScheduled,
    CampaignLaunched,
    CampaignCompleted,
    CampaignDeleted,
    CampaignTouchRecorded,
    CampaignInteractionLogged,
    SurveyAnswered,
]
