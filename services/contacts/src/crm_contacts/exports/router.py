"""Export routes. Registered before the people and companies routers, so that `/export` is not
taken for an id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from crm_contacts.companies import service as companies
from crm_contacts.companies.schemas import CompanyFilters
from crm_contacts.custom_fields.service import attr_params, definitions
from crm_contacts.exports import service
from crm_contacts.people import service as people
from crm_contacts.people.schemas import PersonFilters
from crm_contacts.permissions import Reader
from crm_shared.web import UoW

router = APIRouter(tags=["export"])
Format = Literal["csv", "ndjson"]
MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    }
}


@router.get(
    "/v1/people/export",
    tags=["people"],
    summary="Export people as CSV or NDJSON (streamed, with the list filters)",
    response_class=StreamingResponse,
    responses=STREAM_DOC,
)
async def export_people(
    request: Request,
    uow: UoW,
    _: Reader,
    filters: Annotated[PersonFilters, Query()],
    format: Annotated[Format, Query()] = "csv",
) -> StreamingResponse:
    async with uow:  # filters are checked before the first byte is sent
        query = await people.filtered_query(uow, filters, attr_params(request.query_params))
        keys = [f.key for f in await definitions(uow, "person")]
    return StreamingResponse(
        service.people_stream(uow, query, format, keys),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="people.{format}"'},
    )


@router.get(
    "/v1/companies/export",
    tags=["companies"],
    summary="Export companies as CSV or NDJSON (streamed, with the list filters)",
    response_class=StreamingResponse,
    responses=STREAM_DOC,
)
async def export_companies(
    request: Request,
    uow: UoW,
    _: Reader,
    filters: Annotated[CompanyFilters, Query()],
    format: Annotated[Format, Query()] = "csv",
) -> StreamingResponse:
    async with uow:
        query = await companies.filtered_query(uow, filters, attr_params(request.query_params))
        keys = [f.key for f in await definitions(uow, "company")]
    return StreamingResponse(
        service.companies_stream(uow, query, format, keys),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="companies.{format}"'},
    )
