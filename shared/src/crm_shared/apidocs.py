"""The contracts kept in the repository: each service's OpenAPI document and one AsyncAPI 3.0
document generated from the event catalog. Tests fail when either drifts from the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from crm_shared.events.catalog import CATALOG, TOPIC_PRODUCERS, TOPICS, dlq_topic
from crm_shared.service import ServiceSpec, load_services

DOCS = Path("docs")


def openapi_document(spec: ServiceSpec) -> dict[str, Any]:
    app = spec.create_app(spec.settings())
    return app.openapi()


CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenantid"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {
            "type": "string",
            "description": "Unique event id (UUIDv7); consumers dedupe on it.",
        },
        "ce_source": {"type": "string", "description": "Producing service, e.g. /crm/contacts."},
        "ce_type": {"type": "string", "description": "Event type, crm.<entity>.<verb>."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The aggregate the event is about."},
        "ce_tenantid": {"type": "string", "description": "Tenant (CloudEvents extension)."},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}


def asyncapi_document() -> dict[str, Any]:
    _, schema = models_json_schema(
        [(cls, "validation") for cls in CATALOG], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(schema.get("$defs", {}))
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    consumers = {s.name: set(s.consumes) for s in load_services()}
    for topic in TOPICS:
        on_topic = [cls for cls in CATALOG if cls.topic == topic]
        channel_id = topic.replace(".", "_")
        refs = {}
        for cls in on_topic:
            name = cls.__name__
            messages[name] = {
                "name": cls.type,
                "title": cls.__name__,
                "summary": cls.description,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": f"The event's `{cls.key_field}`."}
                    }
                },
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": topic,
            "description": f"Produced by {TOPIC_PRODUCERS[topic]}; "
            f"dead letters in {dlq_topic(topic)}.",
            "messages": refs,
        }
        if refs and TOPIC_PRODUCERS[topic] != "erp":
            operations[f"publish_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{TOPIC_PRODUCERS[topic]} publishes through its outbox relay.",
            }
        for service, topics in sorted(consumers.items()):
            if topic in topics:
                operations[f"{service}_consumes_{channel_id}"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"{service} consumes (group crm-{service}).",
                }
    schemas["CloudEventHeaders"] = CE_HEADERS
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CRM events",
            "version": "1.0.0",
            "description": "Every event the CRM services publish, as CloudEvents 1.0 in Kafka "
            "binary mode. Keys are customer ids where the event concerns one.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def combined_openapi(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One document for frontend teams: every path under its service prefix (as the ingress
    routes them), operation ids prefixed with the service, identical components shared and
    clashing ones renamed `<Service><Name>`."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for service, document in documents.items():
        renames = _merge_components(service, document, schemas)
        for path, operations in document.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue  # health and metrics are per pod, not part of the public API
            for operation in operations.values():
                operation["operationId"] = f"{service}_{operation['operationId']}"
                operation["tags"] = [f"{service}: {tag}" for tag in operation.get("tags", [])]
            paths[f"/{service}{path}"] = _rename_refs(operations, renames)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM API",
            "version": "1.0.0",
            "description": "Every CRM service behind one ingress: /<service>/v1/...",
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "ingress"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


def _merge_components(
    service: str, document: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, str]:
    renames: dict[str, str] = {}
    own = document.get("components", {}).get("schemas", {})
    for name, schema in own.items():
        if name in schemas and schemas[name] != schema:
            renames[name] = f"{service.title()}{name}"
    for name, schema in own.items():
        schemas[renames.get(name, name)] = _rename_refs(schema, renames)
    return renames


def _rename_refs(value: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return value
    text = json.dumps(value)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    return json.loads(text)


def expected_files(root: Path) -> dict[Path, str]:
    files = {root / DOCS / "asyncapi.json": render(asyncapi_document())}
    documents = {spec.name: openapi_document(spec) for spec in load_services()}
    for name, document in documents.items():
        files[root / DOCS / "openapi" / f"{name}.json"] = render(document)
    combined = combined_openapi(json.loads(json.dumps(documents)))  # a deep copy to rewrite
    files[root / DOCS / "openapi" / "crm.json"] = render(combined)
    return files


def export(root: Path) -> list[Path]:
    written = []
    for path, content in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            written.append(path)
    return written
