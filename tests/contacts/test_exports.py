"""Streamed exports with the list filters, custom fields as columns."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.helpers import create_company, create_person


async def test_people_export_csv_and_ndjson_with_filters(api: httpx.AsyncClient) -> None:
    field = await api.post(
        "/v1/custom-fields",
        json={
            "entity": "person",
            "key": "tier",
            "label": "Tier",
            "type": "select",
            "options": ["a", "b"],
        },
    )
    assert field.status_code == 201
    ada = await create_person(
        api,
        emails=[{"email": "ada@example.com"}, {"email": "ada@work.example"}],
        tags=["vip", "poet"],
        attributes={"tier": "a", "note": "x,y"},
    )
    await create_person(api, first_name="Bob", tags=["other"], attributes={"tier": "b"})

    response = await api.get("/v1/people/export", params={"format": "csv", "tag": "vip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == ada["id"]
    assert row["email"] == "ada@example.com"
    assert row["emails"] == "ada@example.com;ada@work.example"
    assert row["tags"] == "vip;poet"
    assert row["attr.tier"] == "a"
    assert json.loads(row["attributes"]) == {"note": "x,y"}

    nd = await api.get("/v1/people/export", params={"format": "ndjson", "attr.tier": "b"})
    assert nd.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in nd.text.splitlines()]
    assert [p["first_name"] for p in lines] == ["Bob"]

    everyone = await api.get("/v1/people/export", params={"format": "ndjson"})
    assert len(everyone.text.splitlines()) == 2
    bad = await api.get("/v1/people/export", params={"format": "xml"})
    assert bad.status_code == 422


async def test_export_streams_more_than_a_batch(api: httpx.AsyncClient) -> None:
    for i in range(3):
        await create_company(api, name=f"Co {i}", country="PL")
    await create_company(api, name="Elsewhere", country="DE")
    response = await api.get("/v1/companies/export", params={"country": "PL"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["name"] for r in rows) == ["Co 0", "Co 1", "Co 2"]
    # The export does not shadow a company id lookup.
    assert (await api.get(f"/v1/companies/{(await create_company(api))['id']}")).status_code == 200
