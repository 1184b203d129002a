"""Builders the opportunities tests share."""

from __future__ import annotations

from typing import Any

import httpx


async def make_pipeline(api: httpx.AsyncClient, name: str = "Sales") -> dict[str, Any]:
    response = await api.post(
        "/v1/pipelines",
        json={
            "name": name,
            "stages": [
                {"name": "Qualify", "probability": "10"},
                {"name": "Propose", "probability": "40"},
                {"name": "Negotiate", "probability": "70"},
                {"name": "Won", "probability": "100", "kind": "won"},
                {"name": "Lost", "probability": "0", "kind": "lost"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def stage(pipeline: dict[str, Any], name: str) -> str:
    return str(next(s["id"] for s in pipeline["stages"] if s["name"] == name))


async def make_team(
    api: httpx.AsyncClient,
    name: str,
    *,
    manager: str | None = None,
    parent: str | None = None,
    members: dict[str, int | None] | None = None,
    strategy: str = "round_robin",
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "strategy": strategy}
    if manager:
        body["manager_id"] = manager
    if parent:
        body["parent_id"] = parent
    response = await api.post("/v1/teams", json=body)
    assert response.status_code == 201, response.text
    team = dict(response.json())
    for user, capacity in (members or {}).items():
        put = await api.put(
            f"/v1/teams/{team['id']}/members", json={"user_id": user, "capacity": capacity}
        )
        assert put.status_code == 200, put.text
    return team


async def make_deal(
    api: httpx.AsyncClient, pipeline: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Deal",
        "person_id": "0190a000-0000-7000-8000-000000000001",
        "pipeline_id": pipeline["id"],
        "amount": "1000.00",
        "currency": "EUR",
    } | fields
    response = await api.post("/v1/opportunities", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
