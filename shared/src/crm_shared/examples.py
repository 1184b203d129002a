"""Request-body examples for the OpenAPI document, where a route did not write its own.

Derived from the body's JSON Schema (required fields, plus names that carry meaning: email,
phone, country, currency, amount ...), and checked by a test against the real request models,
so an example in the documents is always one the API accepts.
"""

from __future__ import annotations

import uuid
from typing import Any

SAMPLE_ID = "01a2092f-eb3b-7000-9c95-4a7acb98dae2"
BY_NAME: dict[str, Any] = {
    "email": "ada@example.com",
    "from": "ada@example.com",
    "phone": "+48601234567",
    "number": "+48601234567",
    "country": "PL",
    "currency": "EUR",
    "language": "pl",
    "timezone": "Europe/Warsaw",
    "domain": "acme.example",
    "url": "https://acme.example/offer",
    "name": "Acme",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "subject": "Invoice question",
    "title": "Head of purchasing",
    "summary": "Asked for a quote",
    "body": "Hello, could you send the offer again?",
    "source": "web",
    "key": "field_1",
    "label": "Field 1",
    "sku": "SKU-001",
}
CSV_EXAMPLE = "email,first_name,last_name\nada@example.com,Ada,Lovelace\n"
BY_FORMAT = {
    "date-time": "2026-11-23T10:00:00Z",
    "date": "2026-11-23",
    "email": "ada@example.com",
    "time": "09:00:00",
    "uri": "https://acme.example/",
}


def example_for(
    schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0
) -> Any:
    if "$ref" in schema:
        return example_for(components[schema["$ref"].rsplit("/", 1)[-1]], components, name, depth)
    if schema.get("examples"):  # a model's own example wins
        return schema["examples"][0]
    if "anyOf" in schema or "oneOf" in schema:
        options = [
            s for s in schema.get("anyOf", schema.get("oneOf", [])) if s.get("type") != "null"
        ]
        return example_for(options[0], components, name, depth) if options else None
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, components, depth)
    if kind == "array":
        item = example_for(schema.get("items", {}), components, name, depth + 1)
        return [item] if depth < 3 and item is not None and schema.get("minItems", 1) else []
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return False
    if kind == "string":
        return _string(schema, name)
    return None


def _object(schema: dict[str, Any], components: dict[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = list(schema.get("required", []))
    # the top level shows every field (what a form would send); nested objects their essentials
    wanted = (
        list(properties)
        if depth == 0
        else required + [p for p in properties if p in BY_NAME and p not in required]
    )
    result = {}
    for prop in wanted:
        if prop in properties and depth < 4:
            value = example_for(properties[prop], components, prop, depth + 1)
            if value is not None:
                result[prop] = value
    return result


def _string(schema: dict[str, Any], name: str) -> str:
    if schema.get("format") == "uuid":  # distinct per field, so "a must differ from b" holds
        return SAMPLE_ID if not name else str(uuid.uuid5(uuid.UUID(SAMPLE_ID), name))
    if schema.get("format") in BY_FORMAT:
        return str(BY_FORMAT[schema["format"]])
    for key, value in BY_NAME.items():
        if name == key or name.endswith("_" + key):
            return str(value)
    if name.endswith("_id") or name == "id":  # free-form ids (users, providers): by role
        return name.removesuffix("_id").replace("_", "-") + "-1"
    if name in ("amount", "total", "budget", "price", "unit_price") or name.endswith("_amount"):
        return "1250.00"
    return "example"[: schema.get("maxLength", 7)].ljust(schema.get("minLength", 0), "x")


def add_request_examples(document: dict[str, Any]) -> None:
    """Give every JSON request body without an example one derived from its schema."""
    components = document.get("components", {}).get("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            csv = content.get("text/csv")
            if csv is not None and "example" not in csv:
                csv["example"] = CSV_EXAMPLE
            media = content.get("application/json")
            if media is None or "example" in media or "examples" in media:
                continue
            media["examples"] = {
                "example": {"value": example_for(media.get("schema", {}), components)}
            }
