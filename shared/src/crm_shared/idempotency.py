"""Idempotency-Key for POSTs: a retry gets the stored response; the same key with another body
is 422. The key row is written in the same transaction as the work, so a crash never leaves a
key without its effect (or the reverse), and concurrent retries serialise on the key's row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from crm_shared.errors import Unprocessable, ValidationFailed
from crm_shared.uow import UnitOfWork

CLAIM = text(
    """
    INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, body)
    VALUES (:tenant, :key, :hash, 0, 'null')
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)
STORED = text(
    "SELECT request_hash, status_code, body::text AS body, headers::text AS headers "
    "FROM idempotency_keys WHERE tenant_id = :tenant AND key = :key"
)
REMEMBER = text(
    "UPDATE idempotency_keys SET status_code = :status, body = CAST(:body AS jsonb), "
    "headers = CAST(:headers AS jsonb) WHERE tenant_id = :tenant AND key = :key"
)


async def request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(await request.body())
    return digest.hexdigest()


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 characters.",
            errors=[{"pointer": "/Idempotency-Key", "in": "header", "detail": "bad length"}],
        )
    return key


async def idempotent(
    uow: UnitOfWork,
    request: Request,
    work: Callable[[], Awaitable[tuple[BaseModel, dict[str, str]]]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run `work` (inside `uow`) once per Idempotency-Key and return its JSON response."""
    key = idempotency_key(request)
    if key is None:
        model, headers = await work()
        return _response(status_code, model.model_dump(mode="json"), headers)
    fingerprint = await request_fingerprint(request)
    params = {"tenant": uow.tenant_id, "key": key}
    claimed = (await uow.session.execute(CLAIM, params | {"hash": fingerprint})).first()
    if claimed is None:
        row = (await uow.session.execute(STORED, params)).one()
        if row.request_hash != fingerprint:
            raise Unprocessable("This Idempotency-Key was used with a different request.")
        replay_headers = orjson.loads(row.headers) | {"Idempotent-Replayed": "true"}
        return _response(row.status_code, orjson.loads(row.body), replay_headers)
    model, headers = await work()
    body = model.model_dump(mode="json")
    await uow.session.execute(
        REMEMBER,
        params
        | {
            "status": status_code,
            "body": orjson.dumps(body).decode(),
            "headers": orjson.dumps(headers).decode(),
        },
    )
    return _response(status_code, body, headers)


def _response(status_code: int, body: Any, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=headers)
