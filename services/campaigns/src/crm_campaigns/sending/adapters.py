"""Channel adapters: how a message leaves the system. Email goes over SMTP (a real client);
channels without a provider yet go through the log-only adapter."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboundMessage:
    campaign_id: str
    contact_id: str
    channel: str
    to: str | None
    subject: str
    body: str

    @property
    def message_id(self) -> str:
        """Deterministic, so a receiver can recognise a resend of the same member."""
        return f"<{self.campaign_id}.{self.contact_id}@campaigns.crm>"


class ChannelAdapter(Protocol):
    async def send(self, message: OutboundMessage) -> str:
        """Deliver to the provider; return the provider's message id. Raise on failure."""
        ...


class SmtpAdapter:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.start_tls, self.timeout = start_tls, timeout

    async def send(self, message: OutboundMessage) -> str:
        if not message.to:
            raise ValueError("no email address")
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = message.message_id
        email["X-Campaign-Id"] = message.campaign_id
        email["X-Contact-Id"] = message.contact_id
        email.set_content(message.body)
        await aiosmtplib.send(
            email,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )
        return message.message_id


class LogAdapter:
    """For channels without a provider (sms, social, ...): logs what would be sent."""

    def __init__(self) -> None:
        self.sent: deque[OutboundMessage] = deque(maxlen=1000)  # the latest, for inspection

    async def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        log.info(
            "would send %s to %s for campaign %s",
            message.channel,
            message.contact_id,
            message.campaign_id,
        )
        return message.message_id
