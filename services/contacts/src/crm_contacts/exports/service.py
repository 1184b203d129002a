"""Streamed exports of people and companies, as CSV or NDJSON, with the list filters.

Rows are read through a server-side cursor in batches and written out as they come, so memory
does not grow with the tenant. Custom fields get a column each (`attr.<key>`); other
attributes travel in the `attributes` column as JSON. The CSV columns are the ones the import
reads back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Select

from crm_contacts.companies.schemas import CompanyRead
from crm_contacts.companies.service import FIELDS as COMPANY_FIELDS
from crm_contacts.imports.schemas import TARGETS
from crm_contacts.people.schemas import PersonRead
from crm_contacts.people.service import to_read
from crm_shared.uow import UnitOfWork

BATCH = 500
LIST_SEP = ";"

# A person's columns are the ones an import can fill (so an export imports back), plus the
# record's id and times; a company's are its editable fields (custom ones come after).
PERSON_COLUMNS = ["id", *TARGETS, "created_at", "updated_at"]
COMPANY_COLUMNS = [
    "id",
    *(f for f in COMPANY_FIELDS if f != "attributes"),
    "created_at",
    "updated_at",
]


def person_row(person: PersonRead) -> dict[str, Any]:
    data = person.model_dump(mode="json")
    return data | {
        "email": next((e.email for e in person.emails if e.primary), ""),
        "emails": LIST_SEP.join(e.email for e in person.emails),
        "phones": LIST_SEP.join(p.number for p in person.phones),
        "tags": LIST_SEP.join(person.tags),
    }


def company_row(company: CompanyRead) -> dict[str, Any]:
    return company.model_dump(mode="json") | {"tags": LIST_SEP.join(company.tags)}


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


async def stream(
    uow: UnitOfWork,
    query: Select[Any],
    fmt: str,
    columns: list[str],
    custom_keys: list[str],
    to_model: Callable[[Any], BaseModel],
    to_row: Callable[[Any], dict[str, Any]],
) -> AsyncIterator[bytes]:
    async with uow:
        rows = await uow.session.stream_scalars(
            query.order_by(query.selected_columns[0].table.c.id).execution_options(yield_per=BATCH)
        )
        if fmt == "csv":
            yield _csv_line([*columns, *(f"attr.{k}" for k in custom_keys), "attributes"]).encode()
        async for partition in rows.partitions(BATCH):
            out: list[bytes] = []
            for row in partition:
                model = to_model(row)
                if fmt == "ndjson":
                    out.append(orjson.dumps(model.model_dump(mode="json")) + b"\n")
                    continue
                data = to_row(model)
                attributes = dict(data.get("attributes") or {})
                custom = [attributes.pop(k, None) for k in custom_keys]
                custom = [orjson.dumps(v).decode() if isinstance(v, bool) else v for v in custom]
                rest = orjson.dumps(attributes).decode() if attributes else ""
                out.append(_csv_line([*(data.get(c) for c in columns), *custom, rest]).encode())
            yield b"".join(out)


def people_stream(
    uow: UnitOfWork, query: Select[Any], fmt: str, custom_keys: list[str]
) -> AsyncIterator[bytes]:
    return stream(uow, query, fmt, PERSON_COLUMNS, custom_keys, to_read, person_row)


def companies_stream(
    uow: UnitOfWork, query: Select[Any], fmt: str, custom_keys: list[str]
) -> AsyncIterator[bytes]:
    return stream(
        uow, query, fmt, COMPANY_COLUMNS, custom_keys, CompanyRead.model_validate, company_row
    )
