"""Products, price lists and quotes: exact totals, gapless numbers under concurrency, and the
send/accept flow (accepting can win the deal, per tenant setting)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import ok
from tests.opportunities.helpers import make_deal, make_pipeline


async def setup_deal(admin: httpx.AsyncClient) -> dict[str, Any]:
    widget = await ok(await admin.post("/v1/products", json={"sku": "W-1", "name": "Widget"}), 201)
    gadget = await ok(await admin.post("/v1/products", json={"sku": "G-1", "name": "Gadget"}), 201)
    prices = await ok(
        await admin.post(
            "/v1/price-lists",
            json={
                "name": "PL 2026",
                "currency": "PLN",
                "prices": [
                    {"product_id": widget["id"], "unit_price": "19.99"},
                    {"product_id": gadget["id"], "unit_price": "0.10"},
                ],
            },
        ),
        201,
    )
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline, currency="PLN", amount="0.00")
    await ok(
        await admin.put(
            f"/v1/opportunities/{deal['id']}/line-items",
            json=[
                {"product_id": widget["id"], "quantity": "3", "discount_pct": "12.5"},
                {"product_id": gadget["id"], "quantity": "0.333"},
            ],
        )
    )
    return {"deal": deal, "price_list": prices, "pipeline": pipeline}


async def test_totals_are_exact(admin: httpx.AsyncClient) -> None:
    s = await setup_deal(admin)
    quote = await ok(
        await admin.post(
            f"/v1/opportunities/{s['deal']['id']}/quotes",
            json={"price_list_id": s["price_list"]["id"], "discount_pct": "5", "tax_rate": "23"},
        ),
        201,
    )
    # 3 x 19.99 x 0.875 = 52.47375 -> 52.47; 0.333 x 0.10 = 0.0333 -> 0.03
    assert [line["line_total"] for line in quote["lines"]] == ["52.47", "0.03"]
    assert quote["subtotal"] == "52.50"
    assert quote["discount_total"] == "2.63"  # 2.625 rounds half up
    assert quote["tax_total"] == "11.47"  # 49.87 x 23% = 11.4701
    assert quote["total"] == "61.34"
    assert quote["currency"] == "PLN" and quote["status"] == "draft" and quote["number"] == 1


async def test_quote_numbers_are_gapless_under_50_concurrent_requests(
    admin: httpx.AsyncClient,
) -> None:
    s = await setup_deal(admin)
    url = f"/v1/opportunities/{s['deal']['id']}/quotes"
    body = {"price_list_id": s["price_list"]["id"]}
    bad = {"price_list_id": "0190a000-0000-7000-8000-0000000000ff"}
    responses = await asyncio.gather(
        *[admin.post(url, json=bad if i % 10 == 0 else body) for i in range(55)]
    )
    created = [r.json()["number"] for r in responses if r.status_code == 201]
    assert sorted(r.status_code for r in responses).count(404) == 6
    assert sorted(created) == list(range(1, 50))
    assert (await ok(await admin.post(url, json=body), 201))["number"] == 50


async def test_send_accept_wins_the_deal(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    s = await setup_deal(admin)
    deal = s["deal"]
    quote = await ok(
        await admin.post(
            f"/v1/opportunities/{deal['id']}/quotes", json={"price_list_id": s["price_list"]["id"]}
        ),
        201,
    )
    early = await admin.post(f"/v1/quotes/{quote['id']}/accept")
    assert early.status_code == 409
    await ok(await admin.post(f"/v1/quotes/{quote['id']}/send"))
    accepted = await ok(await admin.post(f"/v1/quotes/{quote['id']}/accept"))
    assert accepted["status"] == "accepted"
    won = await ok(await admin.get(f"/v1/opportunities/{deal['id']}"))
    assert won["status"] == "won" and won["close_reason"] == "quote 1 accepted"
    types = [e["type"] for e in await outbox_events(opp_owner, tenant)]
    assert types[-4:] == [
        "crm.quote.sent",
        "crm.quote.accepted",
        "crm.opportunity.stage_changed",
        "crm.opportunity.won",
    ]
    events = await outbox_events(opp_owner, tenant)
    sent = next(e for e in events if e["type"] == "crm.quote.sent")
    assert sent["data"]["total"] == accepted["total"] and sent["key"] == deal["person_id"]
    # the deal is worth what the customer accepted, and the won event says so
    assert Decimal(won["amount"]) == Decimal(accepted["total"])
    won_event = next(e for e in events if e["type"] == "crm.opportunity.won")
    assert Decimal(won_event["data"]["amount"]) == Decimal(accepted["total"])


async def test_accepting_leaves_the_deal_open_when_the_tenant_says_so(
    admin: httpx.AsyncClient,
) -> None:
    await ok(await admin.put("/v1/sales-settings", json={"accepting_quote_wins_deal": False}))
    s = await setup_deal(admin)
    quote = await ok(
        await admin.post(
            f"/v1/opportunities/{s['deal']['id']}/quotes",
            json={"price_list_id": s["price_list"]["id"], "valid_until": "2999-01-01"},
        ),
        201,
    )
    await ok(await admin.post(f"/v1/quotes/{quote['id']}/send"))
    await ok(await admin.post(f"/v1/quotes/{quote['id']}/accept"))
    assert (await ok(await admin.get(f"/v1/opportunities/{s['deal']['id']}")))["status"] == "open"


async def test_expired_quote_cannot_be_sent(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    s = await setup_deal(admin)
    url = f"/v1/opportunities/{s['deal']['id']}/quotes"
    past = await admin.post(
        url, json={"price_list_id": s["price_list"]["id"], "valid_until": "2020-01-01"}
    )
    assert past.status_code == 422 and past.json()["errors"][0]["pointer"] == "/valid_until"
    quote = await ok(
        await admin.post(
            url, json={"price_list_id": s["price_list"]["id"], "valid_until": str(date.today())}
        ),
        201,
    )
    async with opp_owner.begin() as conn:  # time passes: the validity date is behind us
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        await conn.execute(
            text("UPDATE quotes SET valid_until = valid_until - 1 WHERE id = :id"),
            {"id": quote["id"]},
        )
    assert (await ok(await admin.get(f"/v1/quotes/{quote['id']}")))["status"] == "expired"
    assert (await admin.post(f"/v1/quotes/{quote['id']}/send")).status_code == 409
