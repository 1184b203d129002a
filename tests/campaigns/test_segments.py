"""Dynamic segments (validated rule trees compiled to SQL with bound values) and static lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.campaigns.helpers import Feeder
from tests.helpers import count_rows


async def count(capi: httpx.AsyncClient, rules: dict[str, Any]) -> int:
    response = await capi.post("/v1/segments/preview", json={"rules": rules})
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


async def test_and_or_tree_over_fields_tags_and_attributes(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(country="PL", tags=["vip"], attributes={"plan": "gold"})
    await feed.person(country="PL", tags=[], attributes={"plan": "silver"})
    await feed.person(country="DE", tags=["vip"], attributes={})
    await feed.person(country="DE", tags=[], lifecycle_stage="lead")
    rules = {
        "op": "and",
        "rules": [
            {"field": "lifecycle_stage", "operator": "eq", "value": "customer"},
            {
                "op": "or",
                "rules": [
                    {"field": "tags", "operator": "has", "value": "vip"},
                    {"field": "attributes.plan", "operator": "in", "value": ["silver"]},
                ],
            },
        ],
    }
    assert await count(capi, rules) == 3
    no_plan = {"op": "and", "rules": [{"field": "attributes.plan", "operator": "is_null"}]}
    assert await count(capi, no_plan) == 2
    de_not_vip = {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "eq", "value": "DE"},
            {"field": "tags", "operator": "has_none", "value": ["vip"]},
        ],
    }
    assert await count(capi, de_not_vip) == 1


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "password", "operator": "eq", "value": "x"},
        {"field": "tags", "operator": "starts_with", "value": "v"},
        {"field": "country", "operator": "in", "value": "PL"},
        {"field": "country", "operator": "eq"},
        {"field": "do_not_contact", "operator": "eq", "value": "yes"},
        {"field": "attributes.a b", "operator": "eq", "value": "x"},
        {"field": "country", "operator": "eq", "value": "PL", "extra": 1},
    ],
)
async def test_invalid_rules_are_422_with_pointers(
    capi: httpx.AsyncClient, rule: dict[str, Any], campaigns_owner: AsyncEngine, tenant: str
) -> None:
    response = await capi.post(
        "/v1/segments",
        json={"name": "bad", "kind": "dynamic", "rules": {"op": "and", "rules": [rule]}},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"].startswith("/rules")
    assert await count_rows(campaigns_owner, "segments", tenant) == 0


async def test_values_are_bound_never_spliced_into_sql(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    await feed.person(first_name="O'Brien")
    hostile = "x' OR '1'='1'; DROP TABLE people; --"
    for operator in ("eq", "contains", "starts_with"):
        rules = {
            "op": "and",
            "rules": [{"field": "first_name", "operator": operator, "value": hostile}],
        }
        assert await count(capi, rules) == 0
    wildcard = {
        "op": "and",
        "rules": [{"field": "first_name", "operator": "contains", "value": "%"}],
    }
    assert await count(capi, wildcard) == 0  # LIKE metacharacters are literal
    quote = {
        "op": "and",
        "rules": [{"field": "first_name", "operator": "starts_with", "value": "O'"}],
    }
    assert await count(capi, quote) == 1
    assert await count_rows(campaigns_owner, "people", tenant) == 1


async def test_too_deep_trees_are_refused(capi: httpx.AsyncClient) -> None:
    node: dict[str, Any] = {"field": "country", "operator": "eq", "value": "PL"}
    for _ in range(7):
        node = {"op": "and", "rules": [node]}
    response = await capi.post("/v1/segments/preview", json={"rules": node})
    assert response.status_code == 422


async def test_static_list_members_and_preview(capi: httpx.AsyncClient, feed: Feeder) -> None:
    a, b, _c = await feed.person(), await feed.person(), await feed.person()
    created = await capi.post("/v1/segments", json={"name": "Fair leads", "kind": "static"})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    added = await capi.post(f"/v1/segments/{sid}/members", json={"contact_ids": [a, b, a]})
    assert added.json() == {"added": 2}
    again = await capi.post(f"/v1/segments/{sid}/members", json={"contact_ids": [a]})
    assert again.json() == {"added": 0}
    preview = (await capi.get(f"/v1/segments/{sid}/preview")).json()
    assert preview["count"] == 2 and {p["contact_id"] for p in preview["sample"]} == {a, b}
    assert (await capi.delete(f"/v1/segments/{sid}/members/{b}")).status_code == 204
    assert (await capi.get(f"/v1/segments/{sid}/preview")).json()["count"] == 1


async def test_static_lists_take_no_rules_and_dynamic_segments_need_them(
    capi: httpx.AsyncClient,
) -> None:
    rules = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "PL"}]}
    bad = await capi.post("/v1/segments", json={"name": "x", "kind": "static", "rules": rules})
    assert bad.status_code == 422
    bad = await capi.post("/v1/segments", json={"name": "x", "kind": "dynamic"})
    assert bad.status_code == 422
    dynamic = (
        await capi.post("/v1/segments", json={"name": "x", "kind": "dynamic", "rules": rules})
    ).json()
    refused = await capi.post(
        f"/v1/segments/{dynamic['id']}/members", json={"contact_ids": [dynamic["id"]]}
    )
    assert refused.status_code == 409


async def test_segments_are_tenant_isolated(
    campaigns_app: Any, capi: httpx.AsyncClient, feed: Feeder
) -> None:
    from tests.conftest import client

    await feed.person()
    rules = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "PL"}]}
    sid = (
        await capi.post("/v1/segments", json={"name": "x", "kind": "dynamic", "rules": rules})
    ).json()["id"]
    async with client(campaigns_app, "t-other", roles=["marketer"]) as other:
        assert (await other.get(f"/v1/segments/{sid}")).status_code == 404
        assert (await other.post("/v1/segments/preview", json={"rules": rules})).json()[
            "count"
        ] == 0
