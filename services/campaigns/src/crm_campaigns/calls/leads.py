"""Creating a lead in the opportunities service over HTTP, once per call-list entry (the
Idempotency-Key is derived from the entry, so a retry returns the same lead)."""

from __future__ import annotations

from typing import Any

import httpx

from crm_shared.errors import ServiceUnavailable, Unprocessable
from crm_shared.peers import peer_client
from crm_shared.settings import ServiceSettings


class LeadsClient:
    def __init__(
        self, settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport

    async def create_lead(self, tenant: str, key: str, body: dict[str, Any]) -> str:
        async with peer_client(
            self.settings, "opportunities", tenant=tenant, transport=self.transport
        ) as client:
            response = await client.post("/v1/leads", json=body, headers={"Idempotency-Key": key})
        if 400 <= response.status_code < 500:
            detail = response.json().get("detail", "") if response.content else ""
            raise Unprocessable(f"The opportunities service refused the lead: {detail}")
        if response.status_code not in (200, 201):
            raise ServiceUnavailable(
                f"The opportunities service failed ({response.status_code}); retry later."
            )
        return str(response.json()["id"])
