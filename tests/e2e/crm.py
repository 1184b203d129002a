"""HTTP helpers for the journey: one client per service and role, bounded polls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from crm_shared.auth import mint_token
from crm_shared.settings import DEV_JWT_SECRET
from tests.e2e.system import base_url

T = TypeVar("T")


class Crm:
    """`crm.client("contacts", roles=[...], sub=...)`: an httpx client of one service over
    127.0.0.1 with a dev token (HS256, DEV_JWT_SECRET) for this tenant; no roles given means
    admin, `roles=[]` means no token at all (public endpoints)."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self._clients: list[httpx.AsyncClient] = []

    def client(
        self, service: str, roles: list[str] | None = None, sub: str = "e2e-admin"
    ) -> httpx.AsyncClient:
        headers = {}
        if roles != []:
            token = mint_token(
                DEV_JWT_SECRET, tenant=self.tenant, roles=roles or ["admin"], sub=sub
            )
            headers["Authorization"] = f"Bearer {token}"
        c = httpx.AsyncClient(base_url=base_url(service), headers=headers, timeout=30.0)
        self._clients.append(c)
        return c

    async def aclose(self) -> None:
        for c in self._clients:
            await c.aclose()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text}"
    )
    return response.json()


async def poll(
    what: str,
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.25,
) -> T:
    """Call `probe` until it returns something other than None/False (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = await probe()
        if last is not None and last is not False:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for: {what}")
        await asyncio.sleep(interval_s)
