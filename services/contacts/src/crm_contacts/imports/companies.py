"""One chunk of a company import, row by row through the API's own schemas and service.

Each row is validated by CompanyCreate / CompanyUpdate and written by create_company /
update_company, so it meets exactly the API's rules (lengths, enums, custom fields, the
unique external id, hierarchy cycles) and publishes the same events. A row runs in a
savepoint of the chunk's transaction: a rejected row is undone alone, reported, and its
events dropped. Company files are small next to people's, so per-row work is affordable;
the chunk (and so the memory) stays small.

Cells: an empty cell leaves the field as it is (a new company gets the API's default);
`tags` is a `;`-separated list; `parent_external_id` names the parent by its external id
(a company stored, or created by an earlier row); `attr.<key>` sets one attribute (typed
by its custom field definition, the others kept).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_contacts.companies.models import Company
from crm_contacts.companies.schemas import CompanyCreate, CompanyUpdate
from crm_contacts.companies.service import create_company, update_company
from crm_contacts.custom_fields.values import parse_query_value
from crm_contacts.imports import cells, reader
from crm_contacts.imports.outcome import RECORD_ERROR, Totals
from crm_shared.errors import Problem, ValidationFailed, json_pointer
from crm_shared.uow import UnitOfWork

TARGETS = (
    "name",
    "domain",
    "industry",
    "employee_count",
    "country",
    "owner_id",
    "relationship_level",
    "tags",
    "external_id",
    "parent_external_id",
)
MATCH_ON = ("external_id", "domain")
RACE_RETRIES = 3  # a unique key a concurrent writer took between our check and our write

Errors = list[dict[str, str]]
Prepared = tuple[list[list[Any]], list[tuple[int, str]]]


@dataclass
class CompanyChunks:
    """A company import's chunks (see the module's docstring)."""

    header: list[str]
    mapping: dict[str, str]
    match_on: str
    fields: list[Any]  # custom field definitions of companies
    chunk_rows: int
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {target: self.header.index(col) for col, target in self.mapping.items()}
        self.defs = {f.key: f for f in self.fields}

    def prepare(self, chunk: reader.Chunk) -> Prepared:
        """The chunk's records as cells: `[n, *cells]` for the good ones, `(n, why)` for
        those that are not CSV rows of the header's width."""
        return reader.cells_by_record(chunk.data, len(self.header))

    async def apply(
        self, uow: UnitOfWork, chunk: reader.Chunk, prepared: Prepared, job_id: uuid.UUID, done: int
    ) -> Totals:
        good, bad = prepared
        rejected = [(done + n, [{"pointer": "", "detail": why}]) for n, why in bad]
        totals = Totals(errors=len(bad))
        for n, *row in good:
            outcome, errors = await self._row(uow, self._values(row))
            if errors:
                rejected.append((done + n, errors))
                totals.errors += 1
            else:
                setattr(totals, outcome, getattr(totals, outcome) + 1)
        if rejected:
            await (await uow.driver()).executemany(
                RECORD_ERROR,
                [(job_id, n, orjson.dumps(e).decode()) for n, e in sorted(rejected)],
            )
        return totals

    def _values(self, row: list[str]) -> dict[str, str]:
        """The row's non-empty cells by target."""
        values = {target: cells.cell(row[i]) for target, i in self.index.items()}
        return {target: value for target, value in values.items() if value}

    async def _row(self, uow: UnitOfWork, values: dict[str, str]) -> tuple[str, Errors]:
        """Apply one row in a savepoint: (created | updated | unchanged, []) or (_, errors).
        A rejected row's writes and events are undone with it."""
        for attempt in range(RACE_RETRIES):
            try:
                async with uow.savepoint():
                    outcome = await self._upsert(uow, values)
            except Problem as exc:
                return "", _problem_errors(exc)
            except ValidationError as exc:
                return "", [
                    {"pointer": json_pointer(e["loc"]), "detail": e["msg"]} for e in exc.errors()
                ]
            except IntegrityError:
                # Re-run: the API's checks now see the other write and say what clashed.
                if attempt == RACE_RETRIES - 1:
                    raise
                continue
            finally:
                uow.session.expunge_all()  # memory stays flat; the next row reads afresh
            return outcome, []
        raise AssertionError("unreachable")

    async def _upsert(self, uow: UnitOfWork, values: dict[str, str]) -> str:
        key = values.get(self.match_on)
        if key is None:
            raise _row_error(f"/{self.match_on}", f"no {self.match_on} to match the company on")
        company = await self._match(uow, key)
        body = await self._body(uow, values, company)
        if company is None:
            await create_company(uow, CompanyCreate.model_validate(body))
            return "created"
        data = CompanyUpdate.model_validate(body)
        published = len(uow.pending_events)
        await update_company(uow, company.id, data, expected_version=company.version)
        return "updated" if len(uow.pending_events) > published else "unchanged"

    async def _match(self, uow: UnitOfWork, key: str) -> Company | None:
        if self.match_on == "external_id":
            matches = Company.external_id == key
        else:  # as the API stores them now, and as older rows may still have them
            matches = func.lower(Company.domain) == key.lower()
        query = select(Company).where(matches, Company.deleted_at.is_(None)).limit(2)
        found = list((await uow.session.scalars(query)).all())
        if len(found) > 1:  # only domains can repeat; never guess which one is meant
            raise _row_error("/domain", "several companies have this domain")
        return found[0] if found else None

    async def _body(
        self, uow: UnitOfWork, values: dict[str, str], company: Company | None
    ) -> dict[str, Any]:
        """The request body the row stands for (a PATCH of its cells for a stored company)."""
        body: dict[str, Any] = {
            t: v for t, v in values.items() if t in TARGETS and t != "parent_external_id"
        }
        if "tags" in body:
            body["tags"] = cells.items(body["tags"])
        if parent := values.get("parent_external_id"):
            body["parent_id"] = await self._parent(uow, parent)
        attrs = {
            t.removeprefix("attr."): self._attr(t.removeprefix("attr."), v)
            for t, v in values.items()
            if t.startswith("attr.")
        }
        if attrs:
            body["attributes"] = (dict(company.attributes) if company else {}) | attrs
        return body

    async def _parent(self, uow: UnitOfWork, external_id: str) -> uuid.UUID:
        query = select(Company.id).where(
            Company.external_id == external_id, Company.deleted_at.is_(None)
        )
        parent = await uow.session.scalar(query)
        if parent is None:
            raise _row_error("/parent_external_id", f"no company has the external id {external_id}")
        return parent

    def _attr(self, key: str, raw: str) -> Any:
        """A cell as the JSON value the API would get: numbers and booleans typed by the
        field's definition. A cell that does not parse goes as text, for the API's check
        to reject with its own words."""
        definition = self.defs.get(key)
        if definition is None or definition.type not in ("number", "boolean"):
            return raw
        try:
            return parse_query_value(definition.type, definition.options, raw)
        except ValueError:
            return raw


def _row_error(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"pointer": pointer, "detail": detail}])


def _problem_errors(exc: Problem) -> Errors:
    """The row's errors as the API's problem states them (a field's pointer, or the field
    a conflict names)."""
    if exc.errors:
        return [
            {"pointer": e.get("pointer", ""), "detail": e.get("detail", "")} for e in exc.errors
        ]
    pointer = f"/{exc.extra['field']}" if "field" in exc.extra else ""
    return [{"pointer": pointer, "detail": exc.detail}]
