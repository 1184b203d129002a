"""Custom fields: per-tenant definitions checked on every write and usable as filters."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import create_company, create_person


async def define(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/custom-fields", json={"entity": "person"} | body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_definitions_are_validated_and_unique(api: httpx.AsyncClient) -> None:
    await define(api, key="tier", label="Tier", type="select", options=["gold", "silver"])
    again = await api.post(
        "/v1/custom-fields",
        json={"entity": "person", "key": "tier", "label": "Tier", "type": "text"},
    )
    assert again.status_code == 409
    for bad in (
        {"key": "x", "label": "X", "type": "select"},  # no options
        {"key": "Bad Key", "label": "X", "type": "text"},
        {"key": "n", "label": "N", "type": "number", "default": "many"},
        {"key": "t", "label": "T", "type": "colour"},
    ):
        response = await api.post("/v1/custom-fields", json={"entity": "person"} | bad)
        assert response.status_code == 422, bad
    listed = (await api.get("/v1/custom-fields", params={"entity": "person"})).json()
    assert [f["key"] for f in listed] == ["tier"]


async def test_values_are_checked_on_create_and_update(api: httpx.AsyncClient) -> None:
    await define(api, key="tier", label="Tier", type="select", options=["gold", "silver"])
    await define(api, key="score", label="Score", type="number", required=True)
    await define(api, key="since", label="Customer since", type="date")
    await define(api, key="newsletter", label="Newsletter", type="boolean", default=False)

    missing = await api.post("/v1/people", json={"first_name": "Ada", "attributes": {}})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["pointer"] == "/attributes/score"
    wrong = await api.post(
        "/v1/people",
        json={
            "first_name": "Ada",
            "attributes": {"score": "high", "tier": "bronze", "since": "yesterday"},
        },
    )
    assert wrong.status_code == 422
    assert {e["pointer"] for e in wrong.json()["errors"]} == {
        "/attributes/score",
        "/attributes/tier",
        "/attributes/since",
    }
    assert (await api.get("/v1/people")).json()["items"] == []  # nothing written

    person = await create_person(
        api, attributes={"score": 7, "tier": "gold", "since": "2024-05-01", "free": "x"}
    )
    assert person["attributes"] == {
        "score": 7,
        "tier": "gold",
        "since": "2024-05-01",
        "free": "x",
        "newsletter": False,  # the default
    }
    url = f"/v1/people/{person['id']}"
    bad = await api.patch(url, json={"attributes": {"score": True}}, headers={"If-Match": '"1"'})
    assert bad.status_code == 422
    ok = await api.patch(
        url, json={"job_title": "CTO"}, headers={"If-Match": '"1"'}
    )  # attributes untouched: not rechecked
    assert ok.status_code == 200


async def test_list_filters_by_custom_field(api: httpx.AsyncClient) -> None:
    await define(api, key="score", label="Score", type="number")
    await define(api, key="vip", label="VIP", type="boolean")
    seven = await create_person(api, attributes={"score": 7, "vip": True})
    await create_person(api, first_name="Bob", attributes={"score": 8, "vip": True})
    await create_person(
        api, first_name="Cy", attributes={"score": 7, "vip": False, "region": "north"}
    )

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    both = await api.get("/v1/people", params={"attr.score": "7", "attr.vip": "true"})
    assert ids(both) == [seven["id"]]
    free = await api.get("/v1/people", params={"attr.region": "north"})
    assert len(ids(free)) == 1
    bad = await api.get("/v1/people", params={"attr.score": "seven"})
    assert bad.status_code == 422


async def test_company_fields_are_separate(api: httpx.AsyncClient) -> None:
    await define(
        api, entity="company", key="segment", label="Segment", type="select", options=["smb", "ent"]
    )
    bad = await api.post("/v1/companies", json={"name": "Acme", "attributes": {"segment": "x"}})
    assert bad.status_code == 422
    acme = await create_company(api, attributes={"segment": "ent"})
    await create_company(api, name="Other", attributes={"segment": "smb"})
    found = (await api.get("/v1/companies", params={"attr.segment": "ent"})).json()["items"]
    assert [c["id"] for c in found] == [acme["id"]]
    # A person may still carry a free-form `segment`: the definition is for companies only.
    await create_person(api, attributes={"segment": "anything"})
