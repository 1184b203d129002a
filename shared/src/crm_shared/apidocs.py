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


def expected_files(root: Path) -> dict[Path, str]:
    files = {root / DOCS / "asyncapi.json": render(asyncapi_document())}
    for spec in load_services():
        files[root / DOCS / "openapi" / f"{spec.name}.json"] = render(openapi_document(spec))
    return files


def export(root: Path) -> list[Path]:
    written = []
    for path, content in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            written.append(path)
    return written
