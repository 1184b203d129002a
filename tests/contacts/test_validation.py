"""Every class of malformed input gets a problem document and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count_rows, create_company, create_person

BAD_PEOPLE: list[tuple[str, Any, str]] = [
    ("wrong type", {"first_name": 42}, "/first_name"),
    ("wrong type in list", {"first_name": "A", "tags": "vip"}, "/tags"),
    ("unknown field", {"first_name": "A", "favourite_colour": "blue"}, "/favourite_colour"),
    ("oversize string", {"first_name": "x" * 101}, "/first_name"),
    ("oversize list", {"first_name": "A", "tags": [f"t{i}" for i in range(51)]}, "/tags"),
    ("bad email", {"emails": [{"email": "not-an-email"}]}, "/emails/0/email"),
    ("bad phone", {"phones": [{"number": "12345"}]}, "/phones/0/number"),
    ("bad enum", {"first_name": "A", "lifecycle_stage": "vip"}, "/lifecycle_stage"),
    ("bad time zone", {"first_name": "A", "timezone": "Mars/Base"}, "/timezone"),
    (
        "two primaries",
        {"emails": [{"email": "a@x.com", "primary": True}, {"email": "b@x.com", "primary": True}]},
        "/emails",
    ),
    ("nothing to identify", {"job_title": "CTO"}, "/"),
]


@pytest.mark.parametrize(("case", "body", "pointer"), BAD_PEOPLE, ids=[c[0] for c in BAD_PEOPLE])
async def test_bad_person_is_rejected_and_nothing_is_written(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
    case: str,
    body: Any,
    pointer: str,
) -> None:
    response = await api.post("/v1/people", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed" and problem["status"] == 422
    assert pointer in [e["pointer"] for e in problem["errors"]], problem["errors"]
    assert await count_rows(owner_engine, "people", tenant) == 0
    assert await count_rows(owner_engine, "outbox", tenant) == 0


async def test_malformed_json_is_a_problem(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/people", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_oversize_body_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/people",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_oversize_body_without_a_length_is_refused_as_it_streams(
    api: httpx.AsyncClient,
) -> None:
    async def body() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check up front
        yield b'{"first_name": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    response = await api.post(
        "/v1/people", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "1,000,000 bytes" in response.json()["detail"]
    assert (await api.get("/v1/people")).json()["items"] == []


async def test_bad_patch_changes_nothing(api: httpx.AsyncClient) -> None:
    person = await create_person(api, job_title="Engineer")
    url = f"/v1/people/{person['id']}"
    response = await api.patch(
        url, json={"job_title": "CTO", "phones": [{"number": "nope"}]}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 422
    after = (await api.get(url)).json()
    assert after["job_title"] == "Engineer" and after["version"] == 1


async def test_hierarchy_cycle_is_rejected_and_nothing_changes(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    root = await create_company(api, name="Root")
    child = await create_company(api, name="Child", parent_id=root["id"])
    grandchild = await create_company(api, name="Grandchild", parent_id=child["id"])
    events_before = await count_rows(owner_engine, "outbox", tenant)

    response = await api.patch(
        f"/v1/companies/{root['id']}",
        json={"parent_id": grandchild["id"]},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "hierarchy_cycle"
    self_parent = await api.patch(
        f"/v1/companies/{root['id']}", json={"parent_id": root["id"]}, headers={"If-Match": '"1"'}
    )
    assert self_parent.status_code == 422
    assert (await api.get(f"/v1/companies/{root['id']}")).json()["parent_id"] is None
    assert await count_rows(owner_engine, "outbox", tenant) == events_before


async def test_bad_query_parameters_are_problems(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/people", params={"limit": 0})).status_code == 422
    assert (await api.get("/v1/people", params={"limit": 10_000})).status_code == 422
    bad_cursor = await api.get("/v1/people", params={"cursor": "%%%"})
    assert bad_cursor.status_code == 422
    assert (await api.get("/v1/people/not-a-uuid")).status_code == 422
