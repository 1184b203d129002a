from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from crm_contacts.imports import service
from crm_contacts.imports.schemas import ImportJobRead
from crm_contacts.permissions import Reader, Writer
from crm_contacts.settings import ContactsSettings
from crm_shared.errors import ValidationFailed
from crm_shared.settings import settings_of
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/imports", tags=["import"])
MAX_UPLOAD_BYTES = 4 * 1024**3  # streamed to disk, so only the disk bounds it: ~20M people
CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _mapping(raw: str) -> dict[str, str]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not (
        isinstance(value, dict)
        and value
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise ValidationFailed(
            "The mapping is not valid.",
            errors=[
                {"pointer": "/mapping", "in": "query", "detail": "a JSON object column -> field"}
            ],
        )
    return value


@router.post(
    "",
    status_code=202,
    max_body_size=MAX_UPLOAD_BYTES,
    response_model=ImportJobRead,
    summary="Import people or companies from a CSV file (a background job)",
    description=(
        "The body is the CSV file (`Content-Type: text/csv`, first line the header, up to 4 GiB)."
        " `mapping` maps CSV columns to fields. People (`entity=person`, `match_on` email or "
        "external_id): first_name, last_name, email, emails, phones, tags (lists separated by "
        "`;`), job_title, language, timezone, lifecycle_stage, source, external_id, owner_id, "
        "relationship_level. Companies (`entity=company`, `match_on` external_id or domain; a "
        "domain that several companies have is a row error): name, domain, industry, "
        "employee_count, country, owner_id, relationship_level, tags, external_id, "
        "parent_external_id (the parent's external id: a company stored or an earlier row). Both:"
        " `attr.<key>` for attributes and custom fields; an empty cell leaves the field as it is."
        " Rows upsert by `match_on`, by the API's own rules (a row that repeats an earlier one "
        "updates it; a re-run of the same file changes nothing). Follow the job at `Location`: "
        "progress is committed every chunk of rows, and a job whose process stopped resumes after"
        " its last chunk in the contacts worker. Rejected rows never stop the others: they are "
        "listed at `/v1/imports/{id}/errors`."
    ),
    openapi_extra=CSV_BODY,
)
async def start_import(
    request: Request,
    uow: UoW,
    _: Writer,
    mapping: Annotated[str, Query(max_length=10_000, description="JSON: CSV column -> field")],
    match_on: Annotated[
        Literal["email", "external_id", "domain"] | None,
        Query(
            description="People: email (default) or external_id; companies: external_id "
            "(default) or domain"
        ),
    ] = None,
    entity: Annotated[Literal["person", "company"], Query(description="What the rows are")] = (
        "person"
    ),
) -> JSONResponse:
    columns = _mapping(mapping)
    matched_on = match_on or service.MATCH_ON[entity][0]
    service.check_mapping(columns, matched_on, entity)
    settings = settings_of(request.app.state.settings, ContactsSettings)
    async with uow:
        job = await service.create_job(uow, matched_on, columns, entity)
        job_id = job.id
    try:
        await service.save_upload(request.stream(), settings, job_id)
    except Exception:  # too large, or the client went away: no job waits for it forever
        await service.abandon(uow, settings, job_id, "the upload did not complete")
        raise
    await service.queue(request.app.state.sessionmaker, uow, job_id, settings)
    async with uow:
        read = ImportJobRead.model_validate(await service.get_job(uow, job_id))
    return JSONResponse(
        read.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/imports/{job_id}"},
    )


@router.get("/{job_id}", response_model=ImportJobRead, summary="An import's progress")
async def get_import(job_id: uuid.UUID, uow: UoW, _: Reader) -> ImportJobRead:
    async with uow:
        return ImportJobRead.model_validate(await service.get_job(uow, job_id))


@router.get(
    "/{job_id}/errors",
    summary="The rejected rows of an import, as CSV (row, pointer, detail)",
    response_class=StreamingResponse,
    responses={200: {"description": "CSV report", "content": {"text/csv": {}}}},
)
async def import_errors(job_id: uuid.UUID, uow: UoW, _: Reader) -> StreamingResponse:
    async with uow:
        await service.get_job(uow, job_id)

    async def report() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "pointer", "detail"])
        async for number, errors in service.error_rows(uow, job_id):
            for error in errors:
                writer.writerow([number, error.get("pointer", ""), error.get("detail", "")])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        report(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"'},
    )
