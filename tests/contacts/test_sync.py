"""Offline sync feed: every change delivered once a token is kept, none skipped even when a
slow transaction commits after faster ones started later."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from crm_shared.settings import ServiceSettings
from tests.helpers import create_company, create_person


async def drain(
    api: httpx.AsyncClient, token: str | None, limit: int = 100
) -> tuple[list[Any], str]:
    """Every change ready now, following `has_more`; returns the changes and the last token."""
    changes: list[Any] = []
    while True:
        params = {"limit": limit} | ({"since": token} if token else {})
        response = await api.get("/v1/sync/changes", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        changes += page["changes"]
        token = page["next_token"]
        if not page["has_more"]:
            return changes, str(token)


async def drain_until(
    api: httpx.AsyncClient,
    token: str | None,
    done: Callable[[dict[str, Any]], bool],
    limit: int = 100,
    timeout: float = 30.0,
) -> tuple[dict[str, Any], str]:
    """Drain until `done(changes by id)`. The feed only hands out changes of transactions older
    than the oldest one still open in the cluster, so another session's open transaction can
    delay (never drop) a change: poll instead of expecting it on the first call."""
    seen: dict[str, Any] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        changes, token = await drain(api, token, limit)
        seen.update({c["id"]: c for c in changes})
        if done(seen):
            return seen, token
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"changes still missing; got {sorted(seen)}")
        await asyncio.sleep(0.1)


async def test_feed_returns_creates_updates_and_tombstones(api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    company = await create_company(api)
    role = (
        await api.post("/v1/roles", json={"person_id": person["id"], "company_id": company["id"]})
    ).json()
    by_id, token = await drain_until(api, None, lambda seen: role["id"] in seen)
    assert {(c["entity"], c["id"], c["op"]) for c in by_id.values()} == {
        ("person", person["id"], "upsert"),
        ("company", company["id"], "upsert"),
        ("role", role["id"], "upsert"),
    }
    assert by_id[person["id"]]["data"]["last_name"] == "Lovelace"

    # Nothing new: the same token comes back with no changes.
    again, same = await drain(api, token)
    assert again == [] and same == token

    await api.patch(
        f"/v1/people/{person['id']}", json={"job_title": "CTO"}, headers={"If-Match": '"1"'}
    )
    await api.delete(f"/v1/companies/{company['id']}", headers={"If-Match": '"1"'})
    ops, token = await drain_until(
        api, token, lambda seen: person["id"] in seen and company["id"] in seen
    )
    assert ops[person["id"]]["data"]["job_title"] == "CTO"
    assert ops[company["id"]]["op"] == "delete"
    assert ops[company["id"]]["data"] is None


async def test_pages_follow_the_token(api: httpx.AsyncClient) -> None:
    ids = {
        (await create_person(api, emails=[{"email": f"p{i}@example.com"}]))["id"] for i in range(7)
    }
    first = (await api.get("/v1/sync/changes", params={"limit": 3})).json()
    assert len(first["changes"]) <= 3
    got = {c["id"] for c in first["changes"]}
    rest, _ = await drain_until(
        api, first["next_token"], lambda seen: ids <= got | set(seen), limit=3
    )
    assert got | set(rest) == ids  # none missing


async def test_feed_is_per_tenant_and_rejects_a_bad_token(client_for: Any, tenant: str) -> None:
    mine, other = client_for(tenant), client_for(tenant + "-other")
    await create_person(other)
    changes, _ = await drain(mine, None)
    assert changes == []
    bad = await mine.get("/v1/sync/changes", params={"since": "not-a-token"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_slow_transaction_is_not_skipped_under_concurrent_writers(
    api: httpx.AsyncClient, contacts_db: ServiceSettings, tenant: str
) -> None:
    early = await create_person(api, emails=[{"email": "early@example.com"}])
    _, token = await drain_until(api, None, lambda seen: early["id"] in seen)

    # A slow transaction takes its xid now and stays open while others write and commit.
    slow = await asyncpg.connect(contacts_db.database_url.replace("+asyncpg", ""))
    seen: dict[str, Any] = {}
    try:
        tx = slow.transaction()
        await tx.start()
        await slow.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        await slow.execute(
            "UPDATE people SET job_title = 'slow', version = version + 1 WHERE id = $1",
            early["id"],
        )

        async def writer(n: int) -> list[str]:
            made = []
            for i in range(5):
                made.append(
                    (await create_person(api, emails=[{"email": f"w{n}-{i}@example.com"}]))["id"]
                )
            return made

        async def reader() -> None:
            nonlocal token
            for _ in range(10):
                changes, token = await drain(api, token, limit=4)
                seen.update({c["id"]: c for c in changes})
                await asyncio.sleep(0.02)

        results = await asyncio.gather(*(writer(n) for n in range(4)), reader())
        written = {pid for made in results[:4] if made for pid in made}
        # While the slow transaction is open its change cannot be delivered.
        assert early["id"] not in seen
        await tx.commit()
    finally:
        await slow.close()

    def complete(later: dict[str, Any]) -> bool:
        return written <= set(seen) | set(later) and early["id"] in later

    later, token = await drain_until(api, token, complete, limit=4)
    seen.update(later)
    assert seen[early["id"]]["data"]["job_title"] == "slow"
    assert seen[early["id"]]["data"]["version"] == 2


async def test_stale_if_match_returns_the_current_record(api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    url = f"/v1/people/{person['id']}"
    await api.patch(url, json={"job_title": "CTO"}, headers={"If-Match": '"1"'})
    stale = await api.patch(url, json={"job_title": "offline edit"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    body = stale.json()
    assert body["current"]["job_title"] == "CTO" and body["current"]["version"] == 2
    assert stale.headers["etag"] == '"2"'

    company = await create_company(api)
    curl = f"/v1/companies/{company['id']}"
    await api.patch(curl, json={"industry": "retail"}, headers={"If-Match": '"1"'})
    gone = await api.delete(curl, headers={"If-Match": '"1"'})
    assert gone.status_code == 412
    assert gone.json()["current"]["industry"] == "retail"
    assert (await api.get(curl)).status_code == 200


async def test_a_token_older_than_the_pruned_changes_must_resync(
    api: httpx.AsyncClient, contacts_app: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from crm_contacts.sync.retention import prune

    first = await create_person(api, last_name="Early")
    _, old_token = await drain_until(api, None, lambda seen: first["id"] in seen)
    second = await create_person(api, last_name="Later")
    _, new_token = await drain_until(api, old_token, lambda seen: second["id"] in seen)

    pruned = await prune(contacts_app.state.sessionmaker, datetime.now(UTC) + timedelta(seconds=1))
    assert pruned >= 2

    expired = await api.get("/v1/sync/changes", params={"since": old_token})
    assert expired.status_code == 410
    problem = expired.json()
    assert problem["code"] == "sync_token_expired" and "Resync fully" in problem["detail"]
    current = await api.get("/v1/sync/changes", params={"since": new_token})
    assert current.status_code == 200 and current.json()["changes"] == []
