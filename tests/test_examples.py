"""Every request-body example in the OpenAPI documents is one the API accepts: sending it never
fails validation (it may still meet a business rule, such as an id that does not exist)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from crm_shared.examples import SAMPLE_ID
from tests.conftest import client, running_app

SERVICES = ["contacts", "opportunities", "campaigns", "tickets", "analytics"]


def bodies(document: dict[str, Any]) -> list[tuple[str, str, Any]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None:
                continue
            examples = media.get("examples") or {"only": {"value": media.get("example")}}
            found += [(method, path, example["value"]) for example in examples.values()]
    return found


@pytest.mark.parametrize("service", SERVICES)
async def test_request_examples_pass_validation(service: str) -> None:
    async with running_app(service) as app:
        document = app.openapi()
        cases = bodies(document)
        async with client(app, f"examples-{uuid.uuid4().hex[:8]}") as api:
            for method, path, example in cases:
                url = re.sub(r"\{[^}]+\}", SAMPLE_ID, path)
                response = await api.request(
                    method.upper(), url, json=example, headers={"If-Match": '"1"'}
                )
                problem = response.json() if response.status_code == 422 else {}
                assert problem.get("code") != "validation_failed", (
                    f"{method.upper()} {path} rejects its own example {example}: "
                    f"{problem.get('errors')}"
                )
