"""The campaigns service's own settings (`CAMPAIGNS_*`), next to the chassis' ones. The
sender's SMTP and pacing settings are `sending.worker.SenderSettings`, read by the sender."""

from __future__ import annotations

from crm_shared.settings import ServiceSettings


class CampaignsSettings(ServiceSettings):
    survey_secret: str | None = None  # signs survey links; the HS256 API secret if unset (dev)
