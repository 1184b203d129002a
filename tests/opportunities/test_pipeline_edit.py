"""Editing pipelines and their stages: rename, add, reorder, change the default probability or
kind, delete; every edit needs the pipeline's ETag, keeps the stage rules, and a stage still
holding deals cannot be deleted (409)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_deal, make_pipeline, stage


def names(pipeline: dict[str, Any]) -> list[str]:
    assert [s["position"] for s in pipeline["stages"]] == list(range(len(pipeline["stages"])))
    return [s["name"] for s in pipeline["stages"]]


async def edit(
    api: httpx.AsyncClient, method: str, url: str, version: int, body: Any = None
) -> httpx.Response:
    return await api.request(method, url, json=body, headers={"If-Match": f'"{version}"'})


async def test_rename_add_reorder_and_delete(admin: httpx.AsyncClient) -> None:
    pipeline = await make_pipeline(admin)
    url = f"/v1/pipelines/{pipeline['id']}"
    assert (await admin.get(url)).headers["etag"] == '"1"'
    renamed = await edit(admin, "PATCH", url, 1, {"name": "Enterprise"})
    assert renamed.status_code == 200 and renamed.headers["etag"] == '"2"'
    added = await ok(
        await edit(
            admin, "POST", f"{url}/stages", 2, {"name": "Demo", "probability": "25", "position": 1}
        )
    )
    assert names(added) == ["Qualify", "Demo", "Propose", "Negotiate", "Won", "Lost"]
    last = await ok(
        await edit(admin, "POST", f"{url}/stages", 3, {"name": "Parked", "probability": "5"})
    )
    assert names(last)[-1] == "Parked"
    order = [
        stage(last, n) for n in ("Demo", "Qualify", "Propose", "Negotiate", "Parked", "Won", "Lost")
    ]
    reordered = await ok(await edit(admin, "PUT", f"{url}/stage-order", 4, {"stage_ids": order}))
    assert names(reordered) == ["Demo", "Qualify", "Propose", "Negotiate", "Parked", "Won", "Lost"]
    deleted = await ok(await edit(admin, "DELETE", f"{url}/stages/{stage(last, 'Parked')}", 5))
    assert names(deleted) == ["Demo", "Qualify", "Propose", "Negotiate", "Won", "Lost"]
    read = await admin.get(url)
    assert read.headers["etag"] == '"6"' and read.json()["name"] == "Enterprise"
    assert names(read.json()) == names(deleted)


async def test_a_stage_with_deals_cannot_be_deleted(admin: httpx.AsyncClient) -> None:
    pipeline = await make_pipeline(admin)
    url = f"/v1/pipelines/{pipeline['id']}"
    await make_deal(admin, pipeline, stage_id=stage(pipeline, "Propose"))
    refused = await edit(admin, "DELETE", f"{url}/stages/{stage(pipeline, 'Propose')}", 1)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "1 opportunities are in stage 'Propose'" in refused.json()["detail"]
    after = await admin.get(url)
    assert after.headers["etag"] == '"1"' and "Propose" in names(after.json())
    # An empty stage goes.
    assert (
        await edit(admin, "DELETE", f"{url}/stages/{stage(pipeline, 'Negotiate')}", 1)
    ).status_code == 200


async def test_a_new_default_probability_reaches_deals_without_an_override(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    propose = stage(pipeline, "Propose")
    follows = await make_deal(admin, pipeline, stage_id=propose)
    overridden = await make_deal(admin, pipeline, stage_id=propose, probability="90")
    changed = await edit(
        admin, "PATCH", f"/v1/pipelines/{pipeline['id']}/stages/{propose}", 1, {"probability": "55"}
    )
    assert changed.status_code == 200, changed.text
    assert next(s for s in changed.json()["stages"] if s["id"] == propose)["probability"] == "55.00"
    deal = await admin.get(f"/v1/opportunities/{follows['id']}")
    assert deal.json()["probability"] == "55.00"
    assert deal.headers["etag"] == f'"{follows["version"] + 1}"'
    kept = await ok(await admin.get(f"/v1/opportunities/{overridden['id']}"))
    assert kept["probability"] == "90.00"
    updated = [e for e in await outbox_events(opp_owner, tenant) if e["type"].endswith("updated")]
    assert [(e["data"]["opportunity_id"], e["data"]["changed"]) for e in updated] == [
        (follows["id"], ["probability"])
    ]
    assert Decimal(str(updated[0]["data"]["probability"])) == 55
    # The deal's new ETag is the one to edit it with.
    moved = await edit(
        admin, "PATCH", f"/v1/opportunities/{follows['id']}", follows["version"] + 1, {"name": "x"}
    )
    assert moved.status_code == 200


async def test_kind_of_a_stage_with_deals_stays(admin: httpx.AsyncClient) -> None:
    pipeline = await make_pipeline(admin)
    url = f"/v1/pipelines/{pipeline['id']}"
    negotiate = stage(pipeline, "Negotiate")
    await make_deal(admin, pipeline, stage_id=negotiate)
    refused = await edit(
        admin, "PATCH", f"{url}/stages/{negotiate}", 1, {"kind": "won", "probability": "100"}
    )
    assert refused.status_code == 409
    empty = stage(pipeline, "Propose")
    became_lost = await edit(
        admin,
        "PATCH",
        f"{url}/stages/{empty}",
        1,
        {"kind": "lost", "probability": "0", "name": "Dropped"},
    )
    assert became_lost.status_code == 200, became_lost.text
    dropped = next(s for s in became_lost.json()["stages"] if s["id"] == empty)
    assert (dropped["name"], dropped["kind"]) == ("Dropped", "lost")


async def test_edits_that_break_the_rules_change_nothing(
    admin: httpx.AsyncClient, api_for: Api
) -> None:
    pipeline = await make_pipeline(admin)
    url = f"/v1/pipelines/{pipeline['id']}"
    ids = [s["id"] for s in pipeline["stages"]]
    for method, path, body in (
        ("POST", "/stages", {"name": "Propose", "probability": "20"}),  # duplicate name
        ("POST", "/stages", {"name": "Closed", "probability": "80", "kind": "won"}),
        ("PATCH", f"/stages/{ids[0]}", {"name": None}),
        ("PATCH", f"/stages/{ids[3]}", {"probability": "90"}),  # won stays 100
        ("PUT", "/stage-order", {"stage_ids": ids[:-1]}),  # one missing
        ("PUT", "/stage-order", {"stage_ids": [*ids[:-1], ids[0]]}),  # one twice
    ):
        response = await edit(admin, method, url + path, 1, body)
        assert response.status_code == 422, (method, path, body, response.text)
    # Removing the open stages one by one stops at the last one.
    for stage_id in ids[:2]:
        assert (
            await edit(
                admin,
                "DELETE",
                f"{url}/stages/{stage_id}",
                (await admin.get(url)).json()["version"],
            )
        ).status_code == 200
    version = (await admin.get(url)).json()["version"]
    last_open = await edit(admin, "DELETE", f"{url}/stages/{ids[2]}", version)
    assert last_open.status_code == 422 and "open stage" in last_open.text
    stale = await edit(admin, "PATCH", url, 1, {"name": "Late"})
    assert stale.status_code == 412
    assert (await admin.patch(url, json={"name": "No etag"})).status_code == 428
    rep = api_for(["sales_rep"], "rep-1")
    assert (await edit(rep, "PATCH", url, version, {"name": "Mine"})).status_code == 403
    assert names((await admin.get(url)).json()) == ["Negotiate", "Won", "Lost"]
    missing = await edit(admin, "DELETE", f"{url}/stages/{pipeline['id']}", version)
    assert missing.status_code == 404
