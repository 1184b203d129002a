"""Bearer JWT authentication: `sub` (user), `tid` (tenant), `roles`.

Dev and tests sign HS256 with a shared secret; production verifies RS256/ES256 against a JWKS
URL. `alg: none`, expired, forged and tenant-less tokens are rejected with 401; a missing role
is 403. An `X-Tenant-Id` header, when sent, must match the token's tenant (403 otherwise).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from fastapi import Request

from crm_shared.errors import Forbidden, Unauthorized
from crm_shared.logging import tenant_var
from crm_shared.settings import ServiceSettings

ROLES = frozenset(
    {
        "admin",
        "sales_manager",
        "sales_rep",
        "marketer",
        "agent",
        "support_manager",
        "analyst",
        "integration",
    }
)
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ASYMMETRIC = ["RS256", "ES256", "PS256"]


@dataclass(frozen=True)
class Principal:
    sub: str
    tenant_id: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


async def _signing_key(token: str, settings: ServiceSettings) -> tuple[Any, list[str]]:
    if settings.jwks_url:
        client = _jwks_client(settings.jwks_url)
        key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        return key.key, ASYMMETRIC
    if not settings.jwt_secret:
        raise Unauthorized("No token verifier is configured.")
    return settings.jwt_secret, ["HS256"]


# Clients send the same token with every request until it expires; verifying its signature
# each time is a tenth of a simple request's CPU. A verified token is remembered for at most
# VERIFIED_TTL_S (so a key withdrawn from the JWKS stops working within that), never past its exp.
VERIFIED_TTL_S = 60.0
VERIFIED_MAX = 4096
_verified: dict[tuple[int, str], tuple[Principal, float]] = {}


async def decode_token(token: str, settings: ServiceSettings) -> Principal:
    key = (id(settings), token)
    hit = _verified.get(key)
    now = time.time()
    if hit is not None and hit[1] > now:
        return hit[0]
    principal, exp = await _verify(token, settings)
    if len(_verified) >= VERIFIED_MAX:
        _verified.clear()  # cheaper than LRU bookkeeping; refills at one verify per token
    _verified[key] = (principal, min(exp, now + VERIFIED_TTL_S))
    return principal


async def _verify(token: str, settings: ServiceSettings) -> tuple[Principal, float]:
    try:
        key, algorithms = await _signing_key(token, settings)
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "tid"], "verify_aud": bool(settings.jwt_audience)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized(f"The token is not valid: {exc}") from exc
    tenant, roles = claims.get("tid"), claims.get("roles", [])
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise Unauthorized("The token's tenant (tid) is not valid.")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("The token's roles claim must be a list of strings.")
    principal = Principal(sub=str(claims["sub"]), tenant_id=tenant, roles=frozenset(roles) & ROLES)
    return principal, float(claims["exp"])


async def authenticate(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send `Authorization: Bearer <token>`.")
    principal = await decode_token(token.strip(), request.app.state.settings)
    claimed = request.headers.get("x-tenant-id")
    if claimed is not None and claimed != principal.tenant_id:
        raise Forbidden("The token does not belong to the requested tenant.")
    request.state.principal = principal
    tenant_var.set(principal.tenant_id)
    return principal


def require_roles(*roles: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """Dependency: the caller must hold one of `roles` (admin always passes)."""
    allowed = set(roles) | {"admin"}

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.roles & allowed:
            raise Forbidden(f"Requires one of the roles: {', '.join(sorted(allowed))}.")
        return principal

    return dependency


def mint_token(
    settings_or_secret: ServiceSettings | str,
    *,
    tenant: str,
    roles: list[str],
    sub: str = "dev-user",
    ttl_s: int = 3600,
    **claims: Any,
) -> str:
    """An HS256 token for dev and tests (`crm token`)."""
    secret = (
        settings_or_secret
        if isinstance(settings_or_secret, str)
        else settings_or_secret.jwt_secret or ""
    )
    now = int(time.time())
    payload = {"sub": sub, "tid": tenant, "roles": roles, "iat": now, "exp": now + ttl_s} | claims
    return jwt.encode(payload, secret, algorithm="HS256")
