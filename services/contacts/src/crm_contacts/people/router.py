from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contacts.custom_fields.service import attr_params
from crm_contacts.people import service
from crm_contacts.people.schemas import PersonCreate, PersonFilters, PersonRead, PersonUpdate
from crm_contacts.permissions import Reader, Writer
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.errors import PreconditionFailed
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.uow import UnitOfWork
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/people", tags=["people"])

PERSON_EXAMPLE = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "emails": [{"email": "ada@example.com", "primary": True}],
    "phones": [{"number": "+48601234567", "kind": "mobile"}],
    "lifecycle_stage": "prospect",
    "tags": ["vip"],
    "owner_id": "user-1",
    "preferences": {"preferred_channel": "email", "do_not_contact": False},
}


@contextlib.asynccontextmanager
async def _with_current_on_conflict(uow: UnitOfWork, person_id: uuid.UUID) -> AsyncIterator[None]:
    """A stale If-Match (412) carries the current record under `current`, so an offline
    client can resolve the conflict without another round trip."""
    try:
        yield
    except PreconditionFailed as exc:
        async with uow:
            current = service.to_read(await service.get_person(uow, person_id))
        raise PreconditionFailed(
            exc.detail, headers=exc.headers, extra={"current": current.model_dump(mode="json")}
        ) from exc


def _with_etag(person: PersonRead) -> tuple[BaseModel, dict[str, str]]:
    return person, {"ETag": f'"{person.version}"', "Location": f"/v1/people/{person.id}"}


@router.post(
    "",
    status_code=201,
    response_model=PersonRead,
    summary="Create a person",
    responses={409: {"description": "Email or external id already used"}},
)
async def create_person(
    request: Request,
    uow: UoW,
    _: Writer,
    body: Annotated[PersonCreate, Body(openapi_examples={"person": {"value": PERSON_EXAMPLE}})],
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            return _with_etag(service.to_read(await service.create_person(uow, body)))

        return await idempotent(uow, request, work)


@router.get(
    "",
    response_model=Page[PersonRead],
    summary="List and search people",
    description="Custom fields filter as `?attr.<key>=<value>` (typed by the field's definition).",
)
async def list_people(
    request: Request,
    uow: UoW,
    _: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[PersonFilters, Query()],
) -> Page[PersonRead]:
    async with uow:
        rows = await service.list_people(uow, filters, page, attr_params(request.query_params))
    return Page(
        items=[service.to_read(p) for p in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda p: [str(p.id)]),
    )


@router.get("/{person_id}", response_model=PersonRead, summary="Get a person")
async def get_person(person_id: uuid.UUID, uow: UoW, _: Reader) -> Response:
    async with uow:
        person = await service.read_person(uow, person_id)
    # Serialised once, by pydantic's own encoder (no second validation pass by the framework).
    return Response(
        person.model_dump_json(),
        media_type="application/json",
        headers={"ETag": f'"{person.version}"'},
    )


@router.patch("/{person_id}", response_model=PersonRead, summary="Update a person (If-Match)")
async def update_person(
    person_id: uuid.UUID,
    body: PersonUpdate,
    request: Request,
    uow: UoW,
    _: Writer,
    response: Response,
) -> PersonRead:
    expected = if_match_version(request)
    async with _with_current_on_conflict(uow, person_id), uow:
        person = service.to_read(
            await service.update_person(uow, person_id, body, expected_version=expected)
        )
    set_etag(response, person.version)
    return person


@router.delete("/{person_id}", status_code=204, summary="Delete a person (If-Match)")
async def delete_person(person_id: uuid.UUID, request: Request, uow: UoW, _: Writer) -> Response:
    expected = if_match_version(request)
    async with _with_current_on_conflict(uow, person_id), uow:
        await service.delete_person(uow, person_id, expected_version=expected)
    return Response(status_code=204)
