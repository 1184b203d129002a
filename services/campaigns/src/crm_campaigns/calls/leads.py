"""Creating a lead in the opportunities service over HTTP, once per call-list entry (the
Idempotency-Key is derived from the entry, so a retry returns the same lead)."""

from __future__ import annotations

import os
from typing import Any

import httpx

from crm_shared.auth import mint_token
from crm_shared.errors import ServiceUnavailable, Unprocessable
from crm_shared.settings import ServiceSettings


class LeadsClient:
    def __init__(
        self, settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.base_url = os.environ.get("CAMPAIGNS_OPPORTUNITIES_URL", "http://127.0.0.1:8002")
        self.transport = transport

    def _token(self, tenant: str) -> str:
        # Dev/test: a service token signed with the shared HS256 secret. With JWKS, a token
        # from the identity provider (client credentials) is needed: see the report.
        token = os.environ.get("CAMPAIGNS_SERVICE_TOKEN")
        if token:
            return token
        return mint_token(self.settings, tenant=tenant, roles=["integration"], sub="svc-campaigns")

    async def create_lead(self, tenant: str, key: str, body: dict[str, Any]) -> str:
        headers = {"Authorization": f"Bearer {self._token(tenant)}", "Idempotency-Key": key}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, transport=self.transport, timeout=10
            ) as client:
                response = await client.post("/v1/leads", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The opportunities service cannot be reached.") from exc
        if 400 <= response.status_code < 500:
            detail = response.json().get("detail", "") if response.content else ""
            raise Unprocessable(f"The opportunities service refused the lead: {detail}")
        if response.status_code not in (200, 201):
            raise ServiceUnavailable(
                f"The opportunities service failed ({response.status_code}); retry later."
            )
        return str(response.json()["id"])
