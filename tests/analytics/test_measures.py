"""Each measure against a small fixture computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.analytics.events import (
    Feed,
    cmp,
    contract_end,
    contract_renewed,
    deal,
    erp,
    inbound,
    new_id,
    opp,
    order,
    survey,
    tk,
)


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=UTC)


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/v1/measures/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_retention_rate(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    # period [Feb 1, Mar 1) = 28 days; previous period [Jan 4, Feb 1)
    cancelled = order(tenant, "C", day(2026, 1, 10), "10")
    await feed(
        order(tenant, "A", day(2026, 1, 5), "10"),
        order(tenant, "A", day(2026, 2, 5), "10"),
        order(tenant, "B", day(2026, 1, 20), "10"),
        order(tenant, "B", day(2026, 2, 27), "10"),
        cancelled,
        erp.OrderCancelled(
            tenant_id=tenant,
            contact_id="C",
            order_id=cancelled.order_id,
            cancelled_at=day(2026, 1, 11),
        ),
        order(tenant, "C", day(2026, 2, 10), "10"),
        order(tenant, "D", day(2026, 1, 31), "10"),
        order(tenant, "E", day(2026, 2, 15), "10"),  # new in t: not in K(t-1)
        order(tenant, "F", day(2026, 1, 3), "10"),  # before the previous period
    )
    body = await get(api, "retention", **{"from": "2026-02-01", "to": "2026-03-01"})
    # K(t-1) = {A, B, D} (C's only order then was cancelled); Kt = {A, B}: 2/3
    assert body["previous_period"] == {"start": "2026-01-04", "end": "2026-02-01"}
    assert (body["numerator"], body["denominator"], body["rate"]) == (2, 3, 66.67)
    assert body["formula"] == "W = Kt / K(t-1) x 100%"


async def test_static_and_dynamic_churn(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    await feed(
        *(order(tenant, c, day(2025, 11, 1), "10") for c in "ABCD"),
        contract_end(tenant, "A", date(2026, 2, 1)),  # left in Q1
        contract_renewed(tenant, "B", date(2026, 2, 1)),  # renewed in Q1
        contract_end(tenant, "C", date(2026, 4, 10)),  # leaves after Q1
        contract_end(tenant, "E", date(2026, 3, 15)),  # contract-only customer, left in Q1
    )
    q1 = {"from": "2026-01-01", "to": "2026-04-01"}
    static = await get(api, "churn/static", **q1)
    # K = {A, B, C, D, E} = 5, Kz = {A, E} = 2
    assert (static["numerator"], static["denominator"], static["rate"]) == (2, 5, 40.0)
    dynamic = await get(api, "churn/dynamic", **q1)
    # Ku (a term ended in Q1) = {A, B, E} = 3, Kz (not renewed) = {A, E} = 2
    assert (dynamic["numerator"], dynamic["denominator"], dynamic["rate"]) == (2, 3, 66.67)
    empty = await get(api, "churn/dynamic", **{"from": "2025-01-01", "to": "2025-02-01"})
    assert empty["rate"] is None


async def test_loyalty_indexes_and_nps(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    march = {"from": "2026-03-01", "to": "2026-04-01"}
    await feed(
        survey(tenant, "A", day(2026, 3, 2), intent="none", nps=3),
        survey(tenant, "A", day(2026, 3, 20), intent="unconditional", nps=10),  # latest counts
        survey(tenant, "B", day(2026, 3, 3), intent="unconditional", nps=9),
        survey(tenant, "C", day(2026, 3, 4), intent="conditional", nps=9),
        survey(tenant, "D", day(2026, 3, 5), intent="none", nps=8),
        survey(tenant, "E", day(2026, 3, 6), intent="none", nps=3),
        survey(tenant, "F", day(2026, 3, 7), satisfaction=4),  # no intent, no NPS
        survey(tenant, "G", day(2026, 2, 7), intent="unconditional", nps=10),  # before March
    )
    loyalty = await get(api, "loyalty", **march)
    # K = 5 (A..E), Kb = {A, B} = 2, Kw = {C} = 1: WLK = 3/5 = 60%, WWLK = 2/5 = 40%
    assert (loyalty["surveyed"], loyalty["unconditional"], loyalty["conditional"]) == (5, 2, 1)
    assert (loyalty["standard_index"], loyalty["strengthened_index"]) == (60.0, 40.0)
    nps = await get(api, "nps", **march)
    # latest scores 10, 9, 9, 8, 3: promoters 3, detractors 1 of 5: 60% - 20% = 40
    assert (nps["respondents"], nps["promoters"], nps["detractors"], nps["nps"]) == (5, 3, 1, 40.0)


async def rfm_fixture(feed: Feed, tenant: str) -> None:
    await feed(
        order(tenant, "A", day(2026, 1, 10), "100"),
        order(tenant, "A", day(2026, 2, 10), "100"),
        order(tenant, "A", day(2026, 3, 30), "100"),
        order(tenant, "B", day(2026, 3, 25), "50"),
        order(tenant, "C", day(2026, 1, 1), "250"),
        order(tenant, "C", day(2026, 2, 1), "250"),
        *(order(tenant, "D", day(2025, 12, d), "20") for d in (1, 5, 10, 20)),
        order(tenant, "D", day(2026, 1, 1), "20"),
        order(tenant, "E", day(2025, 10, 1), "10"),
    )


AS_OF = "2026-04-01T12:00:00+00:00"


async def test_rfm_scores_segments_and_tiers(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    await rfm_fixture(feed, tenant)
    body = await get(api, "rfm", as_of=AS_OF)
    got = {
        c["contact_id"]: (c["r"], c["f"], c["m"], c["segment"], c["value_tier"])
        for c in body["customers"]
    }
    # recency days A 2, B 7, C 59, D 90, E 182 -> R 5 4 3 2 1
    # orders A 3, B 1, C 2, D 5, E 1 -> F = 1 + floor(5 x worse / 5): A 4, B 1, C 3, D 5, E 1
    # revenue A 300, B 50, C 500, D 100, E 10 -> M: A 4, B 2, C 5, D 3, E 1
    assert got == {
        "A": (5, 4, 4, "champions", "standard"),
        "B": (4, 1, 2, "new_customers", "low"),
        "C": (3, 3, 5, "need_attention", "key"),
        "D": (2, 5, 3, "at_risk", "standard"),
        "E": (1, 1, 1, "lost", "low"),
    }
    assert body["segments"]["champions"] == 1
    # listed by R + F + M (A 13, C 11, D 10, B 7, E 3), only as many as asked
    top = await get(api, "rfm", as_of=AS_OF, limit=2)
    assert [c["contact_id"] for c in top["customers"]] == ["A", "C"]
    assert sum(top["segments"].values()) == 5  # the counts still cover everyone
    assert [r["segment"] for r in body["segment_rules"]][:3] == [
        "champions",
        "loyal",
        "potential_loyalists",
    ]


async def test_pareto_concentration(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    await rfm_fixture(feed, tenant)
    body = await get(api, "pareto", **{"from": "2025-01-01", "to": "2026-04-02"})
    # 5 customers, top ceil(0.2 x 5) = 1: C's 500 of 960 = 52.08%
    assert (body["customers"], body["top_customers"]) == (5, 1)
    assert (body["top_revenue"], body["total_revenue"], body["share"]) == (
        "500.00",
        "960.00",
        52.08,
    )


async def test_pareto_top_fifth_is_counted_exactly(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    # 15 customers: the top 20% is exactly 3 of them (0.2 x 15 in floating point is 3.0000...04)
    await feed(*(order(tenant, f"P{i:02}", day(2026, 1, 5), str(i)) for i in range(1, 16)))
    body = await get(api, "pareto", **{"from": "2026-01-01", "to": "2026-02-01"})
    # revenue 1..15 = 120; top 3: 15 + 14 + 13 = 42 -> 35%
    assert (body["customers"], body["top_customers"], body["top_revenue"]) == (15, 3, "42.00")
    assert body["share"] == 35.0


async def test_loyalty_typology(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    await rfm_fixture(feed, tenant)

    def rating(contact: str, ticket: str, score: int) -> tk.CsatSubmitted:
        return tk.CsatSubmitted(
            tenant_id=tenant,
            contact_id=contact,
            ticket_id=ticket,
            score=score,
            submitted_at=day(2026, 3, 1),
        )

    await feed(
        rating("A", "t1", 5),
        survey(tenant, "A", day(2026, 3, 2), satisfaction=4),  # mean 4.5, 3 orders: loyalist
        rating("B", "t2", 5),  # satisfied, 1 order: mercenary
        rating("D", "t3", 2),  # dissatisfied, 5 orders: hostage
        survey(tenant, "E", day(2026, 3, 2), satisfaction=3),  # 3, 1 order: defector
    )
    body = await get(api, "loyalty-typology", as_of=AS_OF)
    assert body["customers"] == {"loyalists": 1, "mercenaries": 1, "hostages": 1, "defectors": 1}


async def test_sales_hit_rate_time_to_close_and_repeat_sales(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    def created(o: str, at: datetime) -> Any:
        return inbound(
            opp.OpportunityCreated.model_validate(deal(tenant, "A", o, name=o, stage_id="s1")),
            at=at,
        )

    def won(o: str, at: datetime) -> opp.OpportunityWon:
        return opp.OpportunityWon.model_validate(deal(tenant, "A", o, won_at=at))

    await feed(
        created("o1", day(2026, 1, 1)),
        won("o1", day(2026, 1, 11)),  # 10 days
        won("o2", day(2026, 2, 4)),  # won before its creation arrived (out of order)
        created("o2", day(2026, 1, 5)),  # 30 days
        created("o3", day(2026, 1, 10)),
        won("o3", day(2026, 1, 12)),  # 2 days
        created("o4", day(2026, 1, 10)),
        opp.OpportunityLost.model_validate(deal(tenant, "A", "o4", lost_at=day(2026, 2, 1))),
        created("o5", day(2025, 12, 1)),
        won("o5", day(2025, 12, 20)),  # closed before the period
        created("o6", day(2026, 3, 1)),
        inbound(
            opp.OpportunityCreated.model_validate(
                deal(tenant, "B", "o7", name="o7", stage_id="s2", amount="250")
            )
        ),
        order(tenant, "X", day(2025, 12, 1), "10", skus=["a"]),
        order(tenant, "X", day(2026, 2, 1), "10", skus=["a", "b"]),  # repeat, and cross (b)
        order(tenant, "Y", day(2026, 1, 15), "10", skus=["a"]),
        order(tenant, "Y", day(2026, 1, 20), "10", skus=["a"]),  # repeat only
    )
    body = await get(api, "sales", **{"from": "2026-01-01", "to": "2026-04-01"})
    # won 3, lost 1: 75%; time to close 10, 30, 2 days: mean 14, median 10
    assert (body["won"], body["lost"], body["hit_rate"]) == (3, 1, 75.0)
    assert (body["time_to_close_days_mean"], body["time_to_close_days_median"]) == (14.0, 10.0)
    assert (body["repeat_sales"], body["cross_sales"]) == (2, 1)
    # open now: o6 (s1, 1000) and o7 (s2, 250); velocity = 2 x 1000 x 0.75 / 14 = 107.14 per day
    assert body["pipeline_by_stage"] == [
        {"stage_id": "s1", "count": 1, "amount": "1000.00"},
        {"stage_id": "s2", "count": 1, "amount": "250.00"},
    ]
    assert (body["average_won_amount"], body["open_opportunities"]) == ("1000.00", 2)
    assert body["pipeline_velocity_per_day"] == "107.14"
    still_won = await api.get(
        "/v1/measures/sales", params={"from": "2026-02-01", "to": "2026-02-05"}
    )
    assert still_won.json()["won"] == 1  # the late `opportunity.created` did not reopen o2


async def test_service_levels(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    def solved(ticket: str, at: datetime, fr: float, res: float) -> tk.TicketSolved:
        return tk.TicketSolved(
            tenant_id=tenant,
            contact_id="A",
            ticket_id=ticket,
            solved_at=at,
            first_response_seconds=fr,
            resolution_seconds=res,
        )

    def csat(ticket: str, score: int, at: datetime) -> tk.CsatSubmitted:
        return tk.CsatSubmitted(
            tenant_id=tenant, contact_id="A", ticket_id=ticket, score=score, submitted_at=at
        )

    await feed(
        solved("t1", day(2026, 3, 2), 60, 3600),
        tk.TicketSlaBreached(
            tenant_id=tenant,
            contact_id="A",
            ticket_id="t2",
            target="resolution",
            due_at=day(2026, 3, 3),
        ),
        solved("t2", day(2026, 3, 4), 120, 7200),
        solved("t3", day(2026, 3, 5), 300, 1800),
        solved("t4", day(2026, 4, 5), 1, 1),  # outside
        csat("t1", 5, day(2026, 3, 3)),
        csat("t2", 4, day(2026, 3, 5)),
        csat("t3", 2, day(2026, 3, 6)),
        csat("t5", 5, day(2026, 3, 7)),
    )
    body = await get(api, "service", **{"from": "2026-03-01", "to": "2026-04-01"})
    # first response 60, 120, 300: mean 160, median 120; resolution 3600, 7200, 1800: 4200, 3600
    assert body["tickets_solved"] == 3
    assert (body["first_response_seconds_mean"], body["first_response_seconds_median"]) == (
        160.0,
        120.0,
    )
    assert (body["resolution_seconds_mean"], body["resolution_seconds_median"]) == (4200.0, 3600.0)
    assert body["sla_compliance"] == 66.67  # t2 breached: 2 of 3
    # ratings 5, 4, 2, 5: 3 of 4 are 4-5 = 75%, mean 4.0
    assert (body["csat_responses"], body["csat"], body["csat_mean"]) == (4, 75.0, 4.0)


async def test_every_measure_documents_its_formula(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    measures = {p: v["get"] for p, v in spec["paths"].items() if p.startswith("/v1/measures/")}
    assert len(measures) == 12
    for path, operation in measures.items():
        assert "=" in operation["description"] or ">=" in operation["description"], path


async def test_an_empty_period_is_a_problem(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/v1/measures/retention", params={"from": "2026-02-01", "to": "2026-02-01"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/from"
    assert (
        await api.get("/v1/measures/rfm", params={"as_of": "2026-01-01T00:00:00"})
    ).status_code == 422


async def test_measures_need_a_role(analytics_app: Any, tenant: str) -> None:
    from tests.conftest import client

    async with client(analytics_app, tenant, roles=["customer"]) as nobody:
        assert (await nobody.get("/v1/measures/nps")).status_code == 403


async def test_campaign_effectiveness_and_attribution(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    def touch(campaign: str, contact: str, kind: str, d: int) -> cmp.CampaignTouchRecorded:
        return cmp.CampaignTouchRecorded.model_validate(
            {
                "tenant_id": tenant,
                "contact_id": contact,
                "campaign_id": campaign,
                "touch_id": new_id(),
                "kind": kind,
                "channel": "email",
                "occurred_at": day(2026, 3, d),
            }
        )

    await feed(
        cmp.CampaignScheduled(
            tenant_id=tenant, campaign_id="C1", name="Spring", channel="email", budget=Decimal(80)
        ),
        cmp.CampaignCompleted(
            tenant_id=tenant,
            campaign_id="C1",
            name="Spring",
            channel="email",
            actual_cost=Decimal(100),
        ),
        cmp.CampaignScheduled(
            tenant_id=tenant, campaign_id="C2", name="Promo", channel="email", budget=Decimal(60)
        ),
        touch("C1", "A", "delivered", 1),
        touch("C1", "A", "clicked", 2),
        touch("C2", "A", "delivered", 3),
        order(tenant, "A", day(2026, 3, 5), "300.00"),
        touch("C1", "B", "delivered", 1),
        touch("C1", "B", "responded", 4),
        order(tenant, "B", day(2026, 3, 10), "100.00"),
        touch("C1", "C", "delivered", 1),
        touch("C2", "D", "sent", 2),
        touch("C2", "D", "unsubscribed", 3),
        order(tenant, "D", day(2026, 3, 4), "50.00"),
        order(tenant, "E", day(2026, 3, 4), "70.00"),
    )
    body = await get(api, "campaigns", **{"from": "2026-03-01", "to": "2026-04-01"})
    assert (body["revenue"], body["unattributed_revenue"]) == ("520.00", "70.00")
    got = {c["campaign_id"]: c for c in body["campaigns"]}
    # C1: reached A B C, responders A (click) B (response), converted A B; cost 100 (actual)
    # A's 300: touches C1, C1, C2 -> first C1 300, last C2 300, linear C1 200 + C2 100
    # B's 100: C1 only. D's 50: C2's `sent` (the unsubscribe does not count)
    c1, c2 = got["C1"], got["C2"]
    assert (c1["reached"], c1["responders"], c1["response_rate"]) == (3, 2, 66.67)
    assert (c1["converted"], c1["conversion_rate"]) == (2, 66.67)
    assert (c1["cost"], c1["cost_per_response"]) == ("100.00", "50.00")
    assert (c1["revenue_first_touch"], c1["revenue_last_touch"], c1["revenue_linear"]) == (
        "400.00",
        "100.00",
        "300.00",
    )
    assert c1["roi"] == 200.0  # (300 - 100) / 100
    # C2: reached A (deliveries exist, so D's `sent` does not count), no responders, A converted
    assert (c2["reached"], c2["responders"], c2["response_rate"]) == (1, 0, 0.0)
    assert (c2["converted"], c2["cost"], c2["cost_per_response"]) == (1, "60.00", None)
    assert (c2["revenue_first_touch"], c2["revenue_last_touch"], c2["revenue_linear"]) == (
        "50.00",
        "350.00",
        "150.00",
    )
    assert c2["roi"] == 150.0  # (150 - 60) / 60


async def test_a_tenant_without_data_gets_empty_measures(api: httpx.AsyncClient) -> None:
    period = {"from": "2026-01-01", "to": "2026-02-01"}
    rfm = await get(api, "rfm", as_of=AS_OF)
    assert (rfm["segments"], rfm["customers"]) == ({}, [])
    clv = await get(api, "clv", as_of=AS_OF)
    assert (clv["customers"], clv["bgnbd"], clv["predicted_clv_total"]) == (0, None, None)
    assert (await get(api, "pareto", **period))["share"] is None
    assert (await get(api, "retention", **period))["rate"] is None
    sales = await get(api, "sales", **period)
    assert (sales["repeat_sales"], sales["cross_sales"]) == (0, 0)
    recomputed = await api.post("/v1/scores/recompute", params={"as_of": AS_OF})
    assert recomputed.json()["customers"] == 0
