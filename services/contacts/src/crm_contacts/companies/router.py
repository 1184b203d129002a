from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contacts.companies import service
from crm_contacts.companies.schemas import (
    CompanyCreate,
    CompanyFilters,
    CompanyNode,
    CompanyRead,
    CompanyUpdate,
    RoleCreate,
    RoleRead,
    RoleUpdate,
)
from crm_contacts.custom_fields.service import attr_params
from crm_contacts.permissions import Reader, Writer
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.errors import PreconditionFailed
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.uow import UnitOfWork
from crm_shared.web import UoW

router = APIRouter(tags=["companies"])
COMPANY_EXAMPLE = {
    "name": "Acme Sp. z o.o.",
    "domain": "acme.example",
    "industry": "retail",
    "employee_count": 250,
    "country": "PL",
    "relationship_level": "accountable",
}


@contextlib.asynccontextmanager
async def _with_current_on_conflict(uow: UnitOfWork, company_id: uuid.UUID) -> AsyncIterator[None]:
    """A stale If-Match (412) carries the current record under `current`."""
    try:
        yield
    except PreconditionFailed as exc:
        async with uow:
            current = CompanyRead.model_validate(await service.get_company(uow, company_id))
        raise PreconditionFailed(
            exc.detail, headers=exc.headers, extra={"current": current.model_dump(mode="json")}
        ) from exc


@router.post(
    "/v1/companies", status_code=201, response_model=CompanyRead, summary="Create a company"
)
async def create_company(
    request: Request,
    uow: UoW,
    _: Writer,
    body: Annotated[CompanyCreate, Body(openapi_examples={"company": {"value": COMPANY_EXAMPLE}})],
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            company = CompanyRead.model_validate(await service.create_company(uow, body))
            return company, {
                "ETag": f'"{company.version}"',
                "Location": f"/v1/companies/{company.id}",
            }

        return await idempotent(uow, request, work)


@router.get(
    "/v1/companies",
    response_model=Page[CompanyRead],
    summary="List companies",
    description="Custom fields filter as `?attr.<key>=<value>` (typed by the field's definition).",
)
async def list_companies(
    request: Request,
    uow: UoW,
    _: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[CompanyFilters, Query()],
) -> Page[CompanyRead]:
    async with uow:
        rows = await service.list_companies(uow, filters, page, attr_params(request.query_params))
    return Page(
        items=[CompanyRead.model_validate(c) for c in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda c: [str(c.id)]),
    )


@router.get("/v1/companies/{company_id}", response_model=CompanyRead, summary="Get a company")
async def get_company(
    company_id: uuid.UUID, uow: UoW, _: Reader, response: Response
) -> CompanyRead:
    async with uow:
        company = CompanyRead.model_validate(await service.get_company(uow, company_id))
    set_etag(response, company.version)
    return company


@router.patch(
    "/v1/companies/{company_id}",
    response_model=CompanyRead,
    summary="Update a company (If-Match); re-parenting rejects cycles",
)
async def update_company(
    company_id: uuid.UUID,
    body: CompanyUpdate,
    request: Request,
    uow: UoW,
    _: Writer,
    response: Response,
) -> CompanyRead:
    expected = if_match_version(request)
    async with _with_current_on_conflict(uow, company_id), uow:
        company = CompanyRead.model_validate(
            await service.update_company(uow, company_id, body, expected_version=expected)
        )
    set_etag(response, company.version)
    return company


@router.delete("/v1/companies/{company_id}", status_code=204, summary="Delete a company (If-Match)")
async def delete_company(company_id: uuid.UUID, request: Request, uow: UoW, _: Writer) -> Response:
    expected = if_match_version(request)
    async with _with_current_on_conflict(uow, company_id), uow:
        await service.delete_company(uow, company_id, expected_version=expected)
    return Response(status_code=204)


@router.get(
    "/v1/companies/{company_id}/ancestors",
    response_model=list[CompanyNode],
    summary="Parent, grandparent, ... up to the root",
)
async def company_ancestors(company_id: uuid.UUID, uow: UoW, _: Reader) -> list[CompanyNode]:
    async with uow:
        return await service.ancestors(uow, company_id)


@router.get(
    "/v1/companies/{company_id}/descendants",
    response_model=list[CompanyNode],
    summary="Every subsidiary below the company",
)
async def company_descendants(company_id: uuid.UUID, uow: UoW, _: Reader) -> list[CompanyNode]:
    async with uow:
        return await service.descendants(uow, company_id)


@router.get(
    "/v1/companies/{company_id}/roles",
    response_model=list[RoleRead],
    summary="People with a role in the company",
)
async def company_roles(company_id: uuid.UUID, uow: UoW, _: Reader) -> list[RoleRead]:
    async with uow:
        await service.get_company(uow, company_id)
        return [
            RoleRead.model_validate(r) for r in await service.roles_of(uow, company_id=company_id)
        ]


@router.get(
    "/v1/people/{person_id}/roles",
    response_model=list[RoleRead],
    tags=["people"],
    summary="The person's roles in companies",
)
async def person_roles(person_id: uuid.UUID, uow: UoW, _: Reader) -> list[RoleRead]:
    async with uow:
        return [
            RoleRead.model_validate(r) for r in await service.roles_of(uow, person_id=person_id)
        ]


@router.post(
    "/v1/roles",
    status_code=201,
    response_model=RoleRead,
    tags=["roles"],
    summary="Give a person a role in a company",
)
async def add_role(request: Request, body: RoleCreate, uow: UoW, _: Writer) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            return RoleRead.model_validate(await service.add_role(uow, body)), {}

        return await idempotent(uow, request, work)


@router.patch(
    "/v1/roles/{role_id}",
    response_model=RoleRead,
    tags=["roles"],
    summary="Change a role (title, primary flag, period)",
)
async def update_role(role_id: uuid.UUID, body: RoleUpdate, uow: UoW, _: Writer) -> RoleRead:
    async with uow:
        return RoleRead.model_validate(await service.update_role(uow, role_id, body))


@router.delete("/v1/roles/{role_id}", status_code=204, tags=["roles"], summary="Remove a role")
async def remove_role(role_id: uuid.UUID, uow: UoW, _: Writer) -> Response:
    async with uow:
        await service.remove_role(uow, role_id)
    return Response(status_code=204)
