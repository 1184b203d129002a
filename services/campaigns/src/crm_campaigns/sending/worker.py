"""The sender: works off the members of running campaigns, rate limited, with exactly-once
bookkeeping across restarts.

Claim, then send, one member at a time: (1) a short transaction claims the next member
(`pending` -> `sending`, `claimed_at`, `attempts + 1`), checked again against consent,
do-not-contact and an address, which may have changed since the build (`suppressed` if not);
(2) the adapter sends, with a Message-ID derived from the campaign and the member
(`<campaign_id.contact_id@campaigns.crm>`); (3) a second transaction marks the member `sent` and
records the `sent` touch (its events go through the outbox in that commit).

What this guarantees, exactly:
- Nobody is skipped: a member claimed but never confirmed (the process died anywhere between
  (1) and (3)) is claimed again once its lease (`send_lease_s`) has expired, by this sender
  after a restart or by any other. A member ends `sent`, `suppressed` (no longer reachable) or
  `failed` (`send_max_attempts` tries that raised or went unconfirmed, kept in `last_error`).
- Nobody is sent twice, except in the one window SMTP leaves open: after the server has taken
  the message and before (3) commits (including a connection lost before its 250 reply was
  read). SMTP cannot be asked whether a server took a message, so that member, and only that
  one per crash (claims are one at a time), is sent again after the lease, with the same
  Message-ID: the copy is recognisable, and receivers that deduplicate by Message-ID drop it.
  Its bookkeeping (`sent_at`, the `sent` touch and events) is recorded once either way.
- A graceful stop (SIGTERM) finishes the message in flight and its commit, and claims nothing
  more: a restart after it sends nobody twice.
The lease must outlast one send (the SMTP timeout, 30 s), or a live but slow sender's member
could be claimed again.

Runs as a job of the service's consumer/worker process (`sender_job`, ServiceSpec.jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Select, and_, case, exists, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_campaigns.campaigns.models import Campaign, CampaignMember, SendJob
from crm_campaigns.campaigns.service import CONSENT_CHANNEL
from crm_campaigns.projection.models import ProjectedConsent, ProjectedPerson
from crm_campaigns.sending.adapters import ChannelAdapter, LogAdapter, OutboundMessage, SmtpAdapter
from crm_campaigns.touches.service import record_touch
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
P = ProjectedPerson.__table__.c
C = ProjectedConsent.__table__.c
M = CampaignMember.__table__.c


class SenderSettings(BaseSettings):
    """`CAMPAIGNS_SMTP_HOST`, `CAMPAIGNS_SEND_RATE_PER_S`, ..."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNS_", extra="ignore", frozen=True)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = "marketing@example.com"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_start_tls: bool = False
    send_rate_per_s: float = 20.0
    send_batch_size: int = 50
    send_lease_s: float = 300.0
    send_max_attempts: int = 3
    send_poll_interval_s: float = 1.0


class RateLimiter:
    """At most `rate` acquisitions per second, evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        wait = self._next - now
        self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


def default_adapters(settings: SenderSettings) -> dict[str, ChannelAdapter]:
    logger = LogAdapter()
    smtp = SmtpAdapter(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_start_tls,
    )
    return {"email": smtp} | dict.fromkeys(
        ("sms", "phone", "social", "web", "event", "direct_mail"), logger
    )


def _personalise(template: str, person: Any) -> str:
    return template.replace("{first_name}", person.first_name or "").replace(
        "{last_name}", person.last_name or ""
    )


class Sender:
    def __init__(
        self,
        service_settings: ServiceSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: SenderSettings,
        adapters: dict[str, ChannelAdapter],
        *,
        tenants: set[str] | None = None,
    ) -> None:
        self.service_settings = service_settings
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.adapters = adapters
        self.limiter = RateLimiter(settings.send_rate_per_s)
        self._stopping = asyncio.Event()
        self.tenants = tenants  # None: every tenant
        self.sent = 0

    def stop(self) -> None:
        self._stopping.set()

    def _uow(self, tenant_id: str) -> UnitOfWork:
        return UnitOfWork(
            self.sessionmaker,
            tenant_id=tenant_id,
            actor="campaigns-sender",
            source=self.service_settings.source,
        )

    async def run(self) -> None:
        while not self._stopping.is_set():
            worked = await self.run_once()
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), self.settings.send_poll_interval_s
                    )

    async def run_once(self) -> bool:
        """One batch of every active job; True if anything was claimed."""
        async with self.sessionmaker() as session:
            jobs = (
                await session.execute(
                    select(SendJob.campaign_id, SendJob.tenant_id)
                    .where(
                        SendJob.finished_at.is_(None),
                        SendJob.tenant_id.in_(self.tenants) if self.tenants else true(),
                    )
                    .order_by(SendJob.created_at)
                )
            ).all()
        worked = False
        for campaign_id, tenant_id in jobs:
            if self._stopping.is_set():
                break
            worked |= await self._work_job(campaign_id, tenant_id)
        return worked

    async def _work_job(self, campaign_id: uuid.UUID, tenant_id: str) -> bool:
        """Up to `send_batch_size` members of one campaign, then the next campaign's turn."""
        campaign = await self._running(campaign_id, tenant_id)
        if campaign is None:
            return False
        adapter = self.adapters.get(campaign.channel)
        for sent in range(self.settings.send_batch_size):
            if self._stopping.is_set():
                return sent > 0
            await self.limiter.acquire()
            person = await self._claim(campaign)
            if person is None:
                if sent == 0:
                    await self._finish_if_done(campaign_id, tenant_id)
                return sent > 0
            await self._send_one(campaign, person, adapter)
        return True

    async def _running(self, campaign_id: uuid.UUID, tenant_id: str) -> Campaign | None:
        async with self._uow(tenant_id) as uow:
            campaign = await uow.session.get(Campaign, campaign_id)
            if campaign is None or campaign.status != "running":
                return None
            uow.session.expunge(campaign)
            return campaign

    async def _claim(self, campaign: Campaign) -> Any | None:
        """The next member to send to, claimed in its own committed transaction; members that
        can no longer be reached are suppressed on the way, those in doubt too often fail."""
        now = datetime.now(UTC)
        async with self._uow(campaign.tenant_id) as uow:
            while True:
                row = (await uow.session.execute(self._next_member(campaign, now))).first()
                if row is None:
                    return None
                outcome, reason = self._settle(campaign.channel, row)
                await uow.session.execute(
                    update(CampaignMember)
                    .where(
                        M.tenant_id == campaign.tenant_id,
                        M.campaign_id == campaign.id,
                        M.contact_id == row.contact_id,
                    )
                    .values(
                        send_status=outcome,
                        claimed_at=now,
                        attempts=M.attempts + int(outcome == "sending"),
                        last_error=reason or M.last_error,
                    )
                )
                if outcome == "sending":
                    return row

    def _next_member(self, campaign: Campaign, now: datetime) -> Select[Any]:
        stale = now - timedelta(seconds=self.settings.send_lease_s)
        consented = exists().where(
            C.tenant_id == M.tenant_id,
            C.contact_id == M.contact_id,
            C.channel == CONSENT_CHANNEL[campaign.channel],
            C.purpose == "marketing",
            C.status == "granted",
        )
        return (
            select(
                M.contact_id,
                M.send_status,
                M.attempts,
                P.first_name,
                P.last_name,
                P.email,
                P.phone,
                P.do_not_contact,
                P.deleted_at,
                P.erased_at,
                consented.label("consented"),
            )
            .select_from(
                CampaignMember.__table__.outerjoin(
                    ProjectedPerson.__table__,
                    and_(P.tenant_id == M.tenant_id, P.contact_id == M.contact_id),
                )
            )
            .where(
                M.campaign_id == campaign.id,
                (M.send_status == "pending")
                | ((M.send_status == "sending") & (M.claimed_at < stale)),
            )
            .order_by(M.contact_id)
            .limit(1)
            .with_for_update(of=CampaignMember.__table__, skip_locked=True)
        )

    def _settle(self, channel: str, row: Any) -> tuple[str, str | None]:
        """`sending` (claim it), `suppressed` or `failed`, with the reason."""
        reason = self._unsendable(channel, row)
        if reason:
            return "suppressed", reason
        if row.send_status == "sending" and row.attempts >= self.settings.send_max_attempts:
            return "failed", f"unconfirmed after {row.attempts} attempts"
        return "sending", None

    @staticmethod
    def _unsendable(channel: str, row: Any) -> str | None:
        if row.deleted_at is not None or row.erased_at is not None:
            return "gone"
        if row.do_not_contact:
            return "do_not_contact"
        if not row.consented:
            return "no_consent"
        if channel == "email" and not row.email:
            return "no_address"
        if channel in ("sms", "phone") and not row.phone:
            return "no_address"
        return None

    async def _send_one(
        self, campaign: Campaign, person: Any, adapter: ChannelAdapter | None
    ) -> None:
        message = OutboundMessage(
            campaign_id=str(campaign.id),
            contact_id=str(person.contact_id),
            channel=campaign.channel,
            to=person.email if campaign.channel == "email" else person.phone,
            subject=_personalise(campaign.subject or campaign.name, person),
            body=_personalise(campaign.body or "", person),
        )
        try:
            if adapter is None:
                raise RuntimeError(f"no adapter for channel {campaign.channel}")
            provider_id = await adapter.send(message)
        except Exception as exc:
            log.warning("send to %s failed: %s", person.contact_id, exc)
            await self._failed(campaign, person.contact_id, str(exc))
            return
        async with self._uow(campaign.tenant_id) as uow:
            await uow.session.execute(
                update(CampaignMember)
                .where(
                    M.tenant_id == campaign.tenant_id,
                    M.campaign_id == campaign.id,
                    M.contact_id == person.contact_id,
                )
                .values(
                    send_status="sent",
                    sent_at=datetime.now(UTC),
                    provider_message_id=provider_id[:255],
                    last_error=None,
                )
            )
            await record_touch(
                uow,
                campaign,
                person.contact_id,
                "sent",
                provider_event_id=f"sent:{campaign.id}:{person.contact_id}",
            )
        self.sent += 1

    async def _failed(self, campaign: Campaign, contact_id: uuid.UUID, error: str) -> None:
        async with self._uow(campaign.tenant_id) as uow:
            await uow.session.execute(
                update(CampaignMember)
                .where(
                    M.tenant_id == campaign.tenant_id,
                    M.campaign_id == campaign.id,
                    M.contact_id == contact_id,
                )
                .values(
                    send_status=case(
                        (M.attempts >= self.settings.send_max_attempts, "failed"),
                        else_="pending",
                    ),
                    last_error=error[:1000],
                )
            )

    async def _finish_if_done(self, campaign_id: uuid.UUID, tenant_id: str) -> None:
        async with self._uow(tenant_id) as uow:
            open_members = await uow.session.scalar(
                select(
                    exists().where(
                        M.campaign_id == campaign_id, M.send_status.in_(("pending", "sending"))
                    )
                )
            )
            if not open_members:
                await uow.session.execute(
                    update(SendJob)
                    .where(SendJob.campaign_id == campaign_id)
                    .values(finished_at=datetime.now(UTC))
                )


async def sender_job(
    service_settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    stopping: asyncio.Event,
) -> None:
    """The sender as a background job of the consumer/worker process (ServiceSpec.jobs)."""
    settings = SenderSettings()
    sender = Sender(service_settings, sessionmaker, settings, default_adapters(settings))
    task = asyncio.create_task(sender.run())
    await stopping.wait()
    sender.stop()  # finishes the message in flight, claims nothing more
    await task
