"""What the triggers on `orders` keep: the per-customer stats and each order's place in its
person's history. They follow every way orders change (placed, amended, cancelled, out of
order, merged and unmerged people), and RFM, CLV and the score recompute read the same numbers
from the stats as from the orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from crm_analytics.scores.service import CUSTOMER_ORDERS, CUSTOMER_STATS, NTH
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events import contacts as ct
from crm_shared.events import erp
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from tests.analytics.events import Feed, new_id, order

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


async def keyed(feed: Feed, sql: str) -> dict[str, tuple[Any, ...]]:
    """The rows of `sql` in the feed's tenant, by their first column."""
    async with UnitOfWork(feed.sessionmaker, tenant_id=feed.tenant, actor=None, source="t") as uow:
        return {r[0]: tuple(r[1:]) for r in await uow.session.execute(text(sql))}


async def stats(feed: Feed) -> dict[str, tuple[Any, ...]]:
    return await keyed(
        feed,
        "SELECT contact_id, orders, revenue, first_at, last_at, first_total "
        "FROM customer_order_stats",
    )


async def sequence(feed: Feed) -> dict[str, tuple[Any, ...]]:
    """Per order: its person, its position and how many products it brought them first."""
    return await keyed(feed, "SELECT order_id, contact_id, nth, new_products FROM order_sequence")


async def history(feed: Feed, tenant: str) -> None:
    """Ada: three orders, two placed at the same moment (the first is the lower order id);
    Bob: an order cancelled before it arrived, then one kept; Cy: a duplicate of Ada."""
    await feed(
        order(tenant, "ada", day(0), "30.00", order_id="o-2", skus=["tea", "cup"]),
        order(tenant, "ada", day(0), "10.00", order_id="o-1", skus=["tea"]),
        order(tenant, "ada", day(5), "5.00", order_id="o-3", skus=["cup"]),
        erp.OrderCancelled(tenant_id=tenant, contact_id="bob", order_id="b-1", cancelled_at=day(2)),
        order(tenant, "bob", day(1), "99.00", order_id="b-1"),
        order(tenant, "bob", day(3), "7.00", order_id="b-2"),
        order(tenant, "cy", day(9), "100.00", order_id="c-1", skus=["pot", "tea"]),
    )


async def test_the_stats_sum_each_persons_kept_orders(feed: Feed, tenant: str) -> None:
    await history(feed, tenant)
    assert await stats(feed) == {
        "ada": (3, Decimal("45.00"), day(0), day(5), Decimal("10.00")),
        "bob": (1, Decimal("7.00"), day(3), day(3), Decimal("7.00")),
        "cy": (1, Decimal("100.00"), day(9), day(9), Decimal("100.00")),
    }
    assert await sequence(feed) == {
        "o-1": ("ada", 1, 1),  # tea
        "o-2": ("ada", 2, 1),  # cup (tea again)
        "o-3": ("ada", 3, 0),
        "b-2": ("bob", 1, 0),
        "c-1": ("cy", 1, 2),
    }
    # an amended order and a cancelled first order: the next one becomes the first
    await feed(
        order(tenant, "ada", day(5), "6.00", order_id="o-3"),
        erp.OrderCancelled(tenant_id=tenant, contact_id="ada", order_id="o-1", cancelled_at=day(6)),
    )
    assert (await stats(feed))["ada"] == (2, Decimal("36.00"), day(0), day(5), Decimal("30.00"))
    assert {o: place for o, place in (await sequence(feed)).items() if o.startswith("o-")} == {
        "o-2": ("ada", 1, 2),
        "o-3": ("ada", 2, 0),
    }


async def test_the_stats_follow_a_merge_and_its_undoing(feed: Feed, tenant: str) -> None:
    await history(feed, tenant)
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id="ada", merged_ids=["cy"]))
    merged = await stats(feed)
    assert "cy" not in merged
    assert merged["ada"] == (4, Decimal("145.00"), day(0), day(9), Decimal("10.00"))
    assert (await sequence(feed))["c-1"] == ("ada", 4, 1)  # the pot: Ada had tea already

    await feed(
        ct.ContactUnmerged(
            tenant_id=tenant, contact_id="ada", merge_id=new_id(), restored_ids=["cy"]
        )
    )
    restored = await stats(feed)
    assert restored["ada"] == (3, Decimal("45.00"), day(0), day(5), Decimal("10.00"))
    assert restored["cy"] == (1, Decimal("100.00"), day(9), day(9), Decimal("100.00"))
    assert (await sequence(feed))["c-1"] == ("cy", 1, 2)


async def test_the_stats_give_the_same_scores_inputs_as_the_orders(feed: Feed, tenant: str) -> None:
    await history(feed, tenant)
    as_of = day(30)

    async def table(sql: str) -> list[tuple[Any, ...]]:
        async with UnitOfWork(feed.sessionmaker, tenant_id=tenant, actor=None, source="t") as uow:
            driver = await uow.driver()
            await driver.execute(sql, as_of)
            rows = await driver.fetch("SELECT * FROM customer_orders ORDER BY i")
            await driver.execute("DROP TABLE customer_orders")
            return [tuple(r) for r in rows]

    from_orders = await table(CUSTOMER_ORDERS.format(nth=NTH))
    assert await table(CUSTOMER_STATS) == from_orders
    # i, customer, recency, span, age (seconds), orders, revenue, revenue after the first order
    assert from_orders[0] == (
        0,
        "ada",
        25 * 86400.0,
        5 * 86400.0,
        30 * 86400.0,
        3.0,
        Decimal("45.00"),
        Decimal("35.00"),
    )


async def test_scores_read_the_orders_when_as_of_is_before_the_latest(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    await history(feed, tenant)
    # as of day 4 Cy has not bought yet and Ada's third order is still to come
    body = (await api.get("/v1/measures/rfm", params={"as_of": day(4).isoformat()})).json()
    assert {c["contact_id"]: c["frequency"] for c in body["customers"]} == {"ada": 2, "bob": 1}
    now = (await api.get("/v1/measures/rfm", params={"as_of": day(30).isoformat()})).json()
    assert {c["contact_id"]: c["frequency"] for c in now["customers"]} == {
        "ada": 3,
        "bob": 1,
        "cy": 1,
    }


async def test_repeat_and_cross_sales_come_from_the_sequence(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    await history(feed, tenant)
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id="ada", merged_ids=["cy"]))
    window = {"from": day(0).date().isoformat(), "to": day(10).date().isoformat()}
    sales = (await api.get("/v1/measures/sales", params=window)).json()
    # past a first order: o-2 (brings the cup), o-3, c-1 (brings the pot)
    assert (sales["repeat_sales"], sales["cross_sales"]) == (3, 2)
    # from day 5: o-3 and c-1; the earlier orders still decide what is new
    window["from"] = day(5).date().isoformat()
    sales = (await api.get("/v1/measures/sales", params=window)).json()
    assert (sales["repeat_sales"], sales["cross_sales"]) == (2, 1)


async def test_concurrent_writes_for_one_person_both_count(
    feed: Feed, tenant: str, analytics_settings: ServiceSettings
) -> None:
    """Two transactions add orders for the same person at once (two consumers, or a merge
    beside an order): the second waits for the first to commit, then sums both."""
    engines = [create_engine(analytics_settings) for _ in range(2)]  # a connection each

    async def place(order_id: str, placed: asyncio.Event, release: asyncio.Event) -> None:
        sessions = create_sessionmaker(engines[int(order_id[-1]) - 1])
        async with UnitOfWork(sessions, tenant_id=tenant, actor=None, source="t") as uow:
            await (await uow.driver()).execute(
                "INSERT INTO orders (tenant_id, order_id, contact_id, placed_at, total, currency)"
                " VALUES ($1, $2, 'ada', $3, 10, 'EUR')",
                tenant,
                order_id,
                day(int(order_id[-1])),
            )
            placed.set()
            await release.wait()

    first_placed, first_release = asyncio.Event(), asyncio.Event()
    second_placed, second_release = asyncio.Event(), asyncio.Event()
    second_release.set()
    first = asyncio.create_task(place("o-1", first_placed, first_release))
    await first_placed.wait()
    second = asyncio.create_task(place("o-2", second_placed, second_release))
    await asyncio.sleep(0.5)
    assert not second_placed.is_set()  # its trigger waits for the first transaction
    first_release.set()
    await asyncio.gather(first, second)
    for engine in engines:
        await engine.dispose()
    assert (await stats(feed))["ada"] == (2, Decimal("20.00"), day(1), day(2), Decimal("10.00"))
    assert [n for _, n, _ in sorted((await sequence(feed)).values())] == [1, 2]
