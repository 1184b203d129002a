from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import create_person, outbox_events


async def test_ledger_appends_and_current_is_latest_by_capture_time(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    person = await create_person(api)
    url = f"/v1/people/{person['id']}/consents"
    for status, at in [
        ("granted", "2026-01-01T10:00:00Z"),
        ("withdrawn", "2026-03-01T10:00:00Z"),
        ("granted", "2026-02-01T10:00:00Z"),
    ]:  # recorded late, captured earlier
        response = await api.post(
            url,
            json={
                "channel": "email",
                "purpose": "marketing",
                "status": status,
                "source": "web-form",
                "evidence": "form v3",
                "captured_at": at,
            },
        )
        assert response.status_code == 201, response.text
    await api.post(
        url, json={"channel": "sms", "purpose": "service", "status": "granted", "source": "call"}
    )
    overview = (await api.get(url)).json()
    assert len(overview["ledger"]) == 4
    current = {(c["channel"], c["purpose"]): c["status"] for c in overview["current"]}
    assert current == {("email", "marketing"): "withdrawn", ("sms", "service"): "granted"}
    types = [e["type"] for e in await outbox_events(owner_engine, tenant)]
    assert types.count("crm.consent.granted") == 3 and types.count("crm.consent.withdrawn") == 1


async def test_ledger_cannot_be_rewritten_by_the_application(
    api: httpx.AsyncClient,
    contacts_app: object,
    tenant: str,
) -> None:
    person = await create_person(api)
    await api.post(
        f"/v1/people/{person['id']}/consents",
        json={"channel": "email", "purpose": "marketing", "status": "granted", "source": "web"},
    )
    engine = contacts_app.state.engine  # type: ignore[attr-defined]
    for statement in (
        "UPDATE consent_ledger SET status = 'withdrawn'",
        "DELETE FROM consent_ledger",
    ):
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
            with pytest.raises(DBAPIError, match="permission denied"):
                await conn.execute(text(statement))


async def test_bad_consent_is_rejected(api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    response = await api.post(
        f"/v1/people/{person['id']}/consents",
        json={"channel": "pigeon", "purpose": "marketing", "status": "granted", "source": "x"},
    )
    assert response.status_code == 422
    assert (await api.get(f"/v1/people/{person['id']}/consents")).json()["ledger"] == []
