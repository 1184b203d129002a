"""The sender against a real local SMTP server (aiosmtpd): rate limited, consent checked at
send time, a restart mid-campaign sends nobody twice and skips nobody, and a hard crash between
the SMTP send and the bookkeeping commit doubles that one message only, recognisably."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_campaigns.sending.adapters import LogAdapter
from crm_campaigns.sending.worker import Sender, SenderSettings, default_adapters
from crm_shared.events.catalog import ConsentWithdrawn
from tests.campaigns.helpers import (
    Feeder,
    build,
    make_campaign,
    make_segment,
    members,
    move,
    tagged,
)
from tests.conftest import eventually
from tests.helpers import outbox_events


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def for_campaign(self, campaign_id: str) -> list[Message]:
        return [m for m in self.messages if m["X-Campaign-Id"] == campaign_id]


class CrashingInbox(Inbox):
    """Takes the `crash_at`-th message, then kills the sender process (SIGKILL) before its
    250 reply: the server has the message, the sender never learns it went out."""

    def __init__(self, crash_at: int) -> None:
        super().__init__()
        self.crash_at, self.victim_pid = crash_at, 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        if len(self.messages) == self.crash_at and self.victim_pid:
            os.kill(self.victim_pid, signal.SIGKILL)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(inbox: Inbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with serving(inbox) as port:
        yield inbox, port


@contextlib.asynccontextmanager
async def sender(
    app: FastAPI, tenant: str, port: int, rate: float = 50, **tuning: Any
) -> AsyncIterator[Sender]:
    settings = SenderSettings(
        smtp_port=port,
        send_rate_per_s=rate,
        send_poll_interval_s=0.1,
        **({"send_batch_size": 5} | tuning),
    )
    worker = Sender(
        app.state.settings,
        app.state.sessionmaker,
        settings,
        default_adapters(settings),
        tenants={tenant},
    )
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def launched(capi: httpx.AsyncClient, tag: str, **fields: Any) -> str:
    campaign = await make_campaign(capi, [await make_segment(capi, tagged(tag))], **fields)
    await build(capi, campaign["id"])
    await move(capi, campaign["id"], "scheduled")
    await move(capi, campaign["id"], "running")
    return str(campaign["id"])


async def test_restart_mid_campaign_sends_nobody_twice_and_skips_nobody(
    campaigns_app: FastAPI,
    capi: httpx.AsyncClient,
    feed: Feeder,
    smtp: tuple[Inbox, int],
    campaigns_owner: AsyncEngine,
    tenant: str,
) -> None:
    inbox, port = smtp
    people = [await feed.person(tags=["r"], first_name=f"P{i}") for i in range(30)]
    cid = await launched(capi, "r")
    started = time.monotonic()
    async with sender(campaigns_app, tenant, port, rate=40):

        async def some() -> bool:
            return len(inbox.for_campaign(cid)) >= 8

        await eventually(some)
    first_run = len(inbox.for_campaign(cid))
    assert 8 <= first_run < 30
    async with sender(campaigns_app, tenant, port, rate=40):

        async def all_sent() -> bool:
            return all(m["send_status"] == "sent" for m in await members(capi, cid))

        await eventually(all_sent)
    elapsed = time.monotonic() - started
    received = inbox.for_campaign(cid)
    recipients = [m["X-Contact-Id"] for m in received]
    assert sorted(recipients) == sorted(people)  # everybody once, nobody twice
    assert elapsed >= 29 / 40 * 0.9  # the rate limit held
    one = next(m for m in received if m["X-Contact-Id"] == people[0])
    assert one["Subject"] == "Hello P0" and one["To"] == f"{people[0][-8:]}@example.com"
    sent_events = [
        e
        for e in await outbox_events(campaigns_owner, tenant)
        if e["type"] == "crm.campaign.touch_recorded" and e["data"]["kind"] == "sent"
    ]
    assert len(sent_events) == 30
    report = (await capi.get(f"/v1/campaigns/{cid}/effectiveness")).json()
    assert report["sent"] == 30


async def test_two_senders_on_one_campaign_send_nobody_twice(
    campaigns_app: FastAPI,
    capi: httpx.AsyncClient,
    feed: Feeder,
    smtp: tuple[Inbox, int],
    tenant: str,
) -> None:
    """Claims are taken one message at a time, so a slow sender's queue never outlives its
    lease and lets the other sender take the same people again."""
    inbox, port = smtp
    people = [await feed.person(tags=["two"]) for _ in range(16)]
    cid = await launched(capi, "two")
    slow = {"send_batch_size": 50, "send_lease_s": 0.3}  # a turn (50 at 8/s) >> the lease
    async with (
        sender(campaigns_app, tenant, port, rate=8, **slow),
        sender(campaigns_app, tenant, port, rate=8, **slow),
    ):

        async def all_sent() -> bool:
            return all(m["send_status"] == "sent" for m in await members(capi, cid))

        await eventually(all_sent)
    received = Counter(m["X-Contact-Id"] for m in inbox.for_campaign(cid))
    assert set(received) == set(people) and set(received.values()) == {1}


async def test_a_person_without_email_consent_is_never_emailed(
    campaigns_app: FastAPI,
    capi: httpx.AsyncClient,
    feed: Feeder,
    smtp: tuple[Inbox, int],
    tenant: str,
) -> None:
    inbox, port = smtp
    keeps = await feed.person(tags=["c"])
    withdraws = await feed.person(tags=["c"])
    await feed.person(tags=["c"], consent=["sms"])
    cid = await launched(capi, "c")
    # consent withdrawn after the audience was built, before sending
    from datetime import UTC, datetime

    await feed.event(
        ConsentWithdrawn(
            tenant_id=tenant,
            contact_id=withdraws,
            channel="email",
            purpose="marketing",
            source="preference-centre",
            captured_at=datetime.now(UTC),
        )
    )
    async with sender(campaigns_app, tenant, port):

        async def settled() -> bool:
            return all(m["send_status"] in ("sent", "suppressed") for m in await members(capi, cid))

        await eventually(settled)
    assert [m["X-Contact-Id"] for m in inbox.for_campaign(cid)] == [keeps]
    states = {m["contact_id"]: m["send_status"] for m in await members(capi, cid)}
    assert states == {keeps: "sent", withdraws: "suppressed"}


async def test_other_channels_go_through_their_adapter(
    campaigns_app: FastAPI, capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    person = await feed.person(tags=["s"], consent=["sms"])
    cid = await launched(capi, "s", channel="sms", body="Hi {first_name}")
    settings = SenderSettings(send_poll_interval_s=0.1)
    log_adapter = LogAdapter()
    worker = Sender(
        campaigns_app.state.settings,
        campaigns_app.state.sessionmaker,
        settings,
        {"sms": log_adapter},
        tenants={tenant},
    )
    assert await worker.run_once()
    assert [(m.contact_id, m.to, m.body) for m in log_adapter.sent] == [
        (person, "+48601234567", "Hi Ada")
    ]
    assert not await worker.run_once()  # nothing left: the job is finished
    assert (await members(capi, cid))[0]["send_status"] == "sent"


# The sender in a process of its own, as in production, so that it can really crash.
SENDER_PROCESS = """
import asyncio, sys
from crm_campaigns.main import spec
from crm_campaigns.sending.worker import Sender, SenderSettings, default_adapters
from crm_shared.db import create_engine, create_sessionmaker

settings, sending = spec.settings(), SenderSettings()
sessions = create_sessionmaker(create_engine(settings))
sender = Sender(settings, sessions, sending, default_adapters(sending), tenants={sys.argv[1]})
asyncio.run(sender.run())
"""


def sender_process(app: FastAPI, tenant: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CAMPAIGNS_DATABASE_URL": app.state.settings.database_url,
        "CAMPAIGNS_SMTP_PORT": str(port),
        "CAMPAIGNS_SEND_RATE_PER_S": "50",
        "CAMPAIGNS_SEND_LEASE_S": "1",  # the crashed claim is retried after a second
        "CAMPAIGNS_SEND_POLL_INTERVAL_S": "0.1",
        "CAMPAIGNS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-c", SENDER_PROCESS, tenant], env=env)


async def test_a_crash_between_send_and_commit_resends_that_one_message_recognisably(
    campaigns_app: FastAPI,
    capi: httpx.AsyncClient,
    feed: Feeder,
    campaigns_owner: AsyncEngine,
    tenant: str,
) -> None:
    people = [await feed.person(tags=["k"]) for _ in range(12)]
    cid = await launched(capi, "k")
    inbox = CrashingInbox(crash_at=5)
    with serving(inbox) as port:
        first = sender_process(campaigns_app, tenant, port)
        inbox.victim_pid = first.pid
        assert await asyncio.to_thread(first.wait, 60) == -signal.SIGKILL
        in_doubt = inbox.messages[4]["X-Contact-Id"]
        states = {m["contact_id"]: m["send_status"] for m in await members(capi, cid)}
        assert states[in_doubt] == "sending"  # taken by the server, never confirmed
        assert sum(state == "sent" for state in states.values()) == 4
        restarted = sender_process(campaigns_app, tenant, port)
        try:

            async def all_sent() -> bool:
                return all(m["send_status"] == "sent" for m in await members(capi, cid))

            await eventually(all_sent)
        finally:
            restarted.terminate()
            restarted.wait(10)
    received = Counter(m["X-Contact-Id"] for m in inbox.for_campaign(cid))
    assert set(received) == set(people)  # nobody skipped
    assert {p: n for p, n in received.items() if n > 1} == {in_doubt: 2}  # that one only
    copies = [m for m in inbox.for_campaign(cid) if m["X-Contact-Id"] == in_doubt]
    assert {m["Message-ID"] for m in copies} == {f"<{cid}.{in_doubt}@campaigns.crm>"}
    async with campaigns_owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        attempts = await conn.scalar(
            text("SELECT attempts FROM campaign_members WHERE contact_id = :c"), {"c": in_doubt}
        )
    assert attempts == 2
    sent_events = [
        e
        for e in await outbox_events(campaigns_owner, tenant)
        if e["type"] == "crm.campaign.touch_recorded" and e["data"]["kind"] == "sent"
    ]
    assert sorted(e["key"] for e in sent_events) == sorted(people)  # booked once each
    assert (await capi.get(f"/v1/campaigns/{cid}/effectiveness")).json()["sent"] == 12
