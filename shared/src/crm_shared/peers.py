"""Calls from one service to another's API (rare: events are the rule).

The peer's base URL is `<SERVICE>_<PEER>_URL` (default: the peer's local dev port); the caller
presents `<SERVICE>_SERVICE_TOKEN` when the identity provider issues it one (JWKS setups), else a
token minted with the dev secret; a peer that cannot be reached is a 503 for our caller.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from crm_shared.auth import mint_token
from crm_shared.errors import ServiceUnavailable
from crm_shared.settings import ServiceSettings

DEV_PORTS = {
    "contacts": 8001,
    "opportunities": 8002,
    "campaigns": 8003,
    "tickets": 8004,
    "analytics": 8005,
}


def peer_url(settings: ServiceSettings, peer: str) -> str:
    variable = f"{settings.service.upper()}_{peer.upper()}_URL"
    return os.environ.get(variable, f"http://127.0.0.1:{DEV_PORTS[peer]}")


def service_token(settings: ServiceSettings, tenant: str) -> str:
    """The bearer token this service presents to a peer, acting for `tenant`."""
    issued = os.environ.get(f"{settings.service.upper()}_SERVICE_TOKEN")
    if issued:
        return issued
    return mint_token(settings, tenant=tenant, roles=["integration"], sub=f"svc-{settings.service}")


@asynccontextmanager
async def peer_client(
    settings: ServiceSettings,
    peer: str,
    *,
    tenant: str,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_s: float = 10.0,
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {service_token(settings, tenant)}"}
    try:
        async with httpx.AsyncClient(
            base_url=peer_url(settings, peer),
            transport=transport,
            timeout=timeout_s,
            headers=headers,
        ) as client:
            yield client
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The {peer} service cannot be reached.") from exc
