from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_contacts.custom_fields import service
from crm_contacts.custom_fields.schemas import CustomFieldCreate, CustomFieldRead, FieldEntity
from crm_contacts.permissions import Manager, Reader
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/custom-fields", tags=["custom fields"])


@router.post(
    "",
    status_code=201,
    response_model=CustomFieldRead,
    summary="Define a custom field on people or companies",
)
async def create_field(body: CustomFieldCreate, uow: UoW, _: Manager) -> CustomFieldRead:
    async with uow:
        return CustomFieldRead.model_validate(await service.create_field(uow, body))


@router.get("", response_model=list[CustomFieldRead], summary="The tenant's custom fields")
async def list_fields(
    uow: UoW, _: Reader, entity: Annotated[FieldEntity, Query()] = "person"
) -> list[CustomFieldRead]:
    async with uow:
        return [CustomFieldRead.model_validate(f) for f in await service.definitions(uow, entity)]


@router.delete(
    "/{field_id}",
    status_code=204,
    summary="Remove a definition (stored values stay as free-form attributes)",
)
async def delete_field(field_id: uuid.UUID, uow: UoW, _: Manager) -> Response:
    async with uow:
        await service.delete_field(uow, field_id)
    return Response(status_code=204)
