"""The `crm` command line: dev tokens, topic creation and tailing real events."""

from __future__ import annotations

import asyncio
import json

import jwt
from typer.testing import CliRunner

from crm_shared.cli import app
from crm_shared.events.catalog import TOPICS, dlq_topic
from crm_shared.service import load_services
from crm_shared.settings import DEV_JWT_SECRET, ServiceSettings
from tests.conftest import TEST_KAFKA
from tests.kafka_helpers import produce

# The CLI reads settings from the environment: point every service at the tests' broker.
runner = CliRunner(
    env={f"{s.name.upper()}_KAFKA_BOOTSTRAP_SERVERS": TEST_KAFKA for s in load_services()}
)


def test_token_carries_tenant_roles_and_subject() -> None:
    result = runner.invoke(
        app, ["token", "--tenant", "acme", "--roles", "sales_rep,agent", "--sub", "u-7"]
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), DEV_JWT_SECRET, algorithms=["HS256"])
    assert (claims["tid"], claims["roles"], claims["sub"]) == (
        "acme",
        ["sales_rep", "agent"],
        "u-7",
    )


def test_topics_ensure_is_idempotent() -> None:
    first = runner.invoke(app, ["topics", "ensure"])
    second = runner.invoke(app, ["topics", "ensure"])
    assert first.exit_code == second.exit_code == 0
    assert f"{len(TOPICS) * 2} wanted, created none" in second.output
    assert dlq_topic(TOPICS[0]) not in second.output


async def test_events_tail_prints_cloudevents(contacts_db: ServiceSettings) -> None:
    await produce(
        contacts_db,
        "crm.contacts.v1",
        key="k",
        value=b"{}",
        headers={
            "ce_specversion": "1.0",
            "ce_id": "cli-test",
            "ce_type": "crm.contact.deleted",
            "ce_source": "/tests",
            "ce_tenantid": "cli",
        },
    )
    args = ["events", "tail", "crm.contacts.v1", "--from-beginning", "--limit", "1"]
    result = await asyncio.to_thread(runner.invoke, app, args)  # the CLI runs its own loop
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.splitlines()[0])
    assert line["headers"]["ce_specversion"] == "1.0"
    assert line["headers"]["ce_type"].startswith("crm.")
