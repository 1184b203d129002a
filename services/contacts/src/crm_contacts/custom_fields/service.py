"""Custom fields: per-tenant definitions, checked on every write of `attributes`."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError

from crm_contacts.custom_fields.models import CustomField
from crm_contacts.custom_fields.schemas import CustomFieldCreate
from crm_contacts.custom_fields.values import coerce, parse_query_value
from crm_shared.errors import Conflict, NotFound, ValidationFailed
from crm_shared.uow import UnitOfWork

DEFINITIONS = "SELECT * FROM custom_fields WHERE entity = $1 ORDER BY key"


async def definitions(uow: UnitOfWork, entity: str) -> list[Any]:
    """The tenant's definitions (read-only rows with CustomField's attributes), read once per
    transaction (an import checks many rows) and on the driver: every create and update of a
    person reads them."""
    cache: dict[str, list[Any]] = uow.session.info.setdefault("custom_fields", {})
    if entity not in cache:
        rows = await (await uow.driver()).fetch(DEFINITIONS, entity)
        cache[entity] = [SimpleNamespace(**row) for row in rows]
    return cache[entity]


async def create_field(uow: UnitOfWork, data: CustomFieldCreate) -> CustomField:
    field = CustomField(tenant_id=uow.tenant_id, **data.model_dump())
    uow.session.add(field)
    uow.session.info.pop("custom_fields", None)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The {data.entity} field {data.key} already exists.") from exc
    return field


async def delete_field(uow: UnitOfWork, field_id: uuid.UUID) -> None:
    field = await uow.session.get(CustomField, field_id)
    if field is None:
        raise NotFound(f"No custom field {field_id}.")
    uow.session.info.pop("custom_fields", None)
    await uow.session.delete(field)  # stored values stay in `attributes`, now free-form


async def checked_attributes(
    uow: UnitOfWork, entity: str, attributes: dict[str, Any] | None, *, pointer: str = "/attributes"
) -> dict[str, Any]:
    """`attributes` with defaults filled in, after checking every defined field: type,
    options, required. Keys without a definition stay free-form. 422 names every problem."""
    values = dict(attributes or {})
    errors = []
    for field in await definitions(uow, entity):
        if values.get(field.key) is None:
            if field.default is not None:
                values[field.key] = field.default
            elif field.required:
                errors.append(
                    {"pointer": f"{pointer}/{field.key}", "detail": f"{field.label} is required"}
                )
            continue
        try:
            values[field.key] = coerce(field.type, field.options, values[field.key])
        except ValueError as exc:
            errors.append({"pointer": f"{pointer}/{field.key}", "detail": str(exc)})
    if errors:
        raise ValidationFailed("Custom fields are not valid.", errors=errors)
    return values


async def attribute_filters(uow: UnitOfWork, entity: str, raw: dict[str, str]) -> dict[str, Any]:
    """`?attr.<key>=value` filters, typed by the definitions (undefined keys compare as text)."""
    fields = {f.key: f for f in await definitions(uow, entity)} if raw else {}
    typed: dict[str, Any] = {}
    for key, value in raw.items():
        field = fields.get(key)
        try:
            typed[key] = parse_query_value(field.type, field.options, value) if field else value
        except ValueError as exc:
            raise ValidationFailed(
                "A custom field filter is not valid.",
                errors=[{"pointer": f"/attr.{key}", "in": "query", "detail": str(exc)}],
            ) from exc
    return typed


def attr_params(query: Any) -> dict[str, str]:
    """The `attr.<key>` query parameters of a request."""
    return {k.removeprefix("attr."): v for k, v in query.items() if k.startswith("attr.")}
