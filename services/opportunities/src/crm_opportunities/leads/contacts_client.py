"""The contacts service over HTTP, for lead conversion.

Every write carries an Idempotency-Key derived from the lead, and the person carries
`external_id = lead:<id>`: a retried conversion gets back the person (and company) the first
attempt created, never a second one. The base URL is `OPPORTUNITIES_CONTACTS_URL`; the httpx
transport is injectable (tests point it at the contacts app in-process).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_shared.errors import ServiceUnavailable, Unprocessable


class ContactsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPPORTUNITIES_", extra="ignore")

    contacts_url: str = "http://127.0.0.1:8001"
    contacts_timeout_s: float = 5.0


@dataclass(frozen=True)
class ContactRefs:
    contact_id: uuid.UUID
    company_id: uuid.UUID | None


class ContactsClient:
    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url
        self.transport = transport
        self.timeout_s = timeout_s

    async def ensure(
        self,
        *,
        authorization: str,
        lead_id: uuid.UUID,
        person: dict[str, Any] | None,
        contact_id: uuid.UUID | None,
        company: dict[str, Any] | None,
        company_id: uuid.UUID | None,
    ) -> ContactRefs:
        """Create (or reuse) the person and company for a lead and link them with a role."""
        headers = {"Authorization": authorization}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url,
                transport=self.transport,
                timeout=self.timeout_s,
                headers=headers,
            ) as http:
                if contact_id is None:
                    assert person is not None
                    contact_id = await self._create(
                        http, "/v1/people", person, f"lead-convert:{lead_id}:person", "person"
                    )
                else:
                    await self._exists(http, f"/v1/people/{contact_id}", "person")
                created_company = False
                if company_id is None and company is not None:
                    company_id = await self._create(
                        http, "/v1/companies", company, f"lead-convert:{lead_id}:company", "company"
                    )
                    created_company = True
                elif company_id is not None:
                    await self._exists(http, f"/v1/companies/{company_id}", "company")
                if company_id is not None and created_company:
                    role = {
                        "person_id": str(contact_id),
                        "company_id": str(company_id),
                        "is_primary": True,
                    }
                    await self._create(
                        http, "/v1/roles", role, f"lead-convert:{lead_id}:role", "role"
                    )
        except httpx.TransportError as exc:
            raise _unavailable() from exc
        return ContactRefs(contact_id=contact_id, company_id=company_id)

    async def _create(
        self, http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str, what: str
    ) -> uuid.UUID:
        response = await http.post(path, json=body, headers={"Idempotency-Key": key})
        if response.status_code == 409 and what == "person":
            # Our external_id is already taken: an earlier attempt created this person.
            holder = response.json().get("conflicting_id")
            if holder:
                return uuid.UUID(str(holder))
        _raise_for(response, what)
        return uuid.UUID(str(response.json()["id"]))

    async def _exists(self, http: httpx.AsyncClient, path: str, what: str) -> None:
        _raise_for(await http.get(path), what)


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The contacts service is unavailable; nothing was converted, retry later.",
        headers={"Retry-After": "5"},
    )


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    if response.status_code >= 500 or response.status_code == 429:
        raise _unavailable()
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text[:500]
    raise Unprocessable(
        f"The contacts service rejected the {what}: {detail}",
        extra={"upstream_status": response.status_code},
    )
