"""The OpenAPI and AsyncAPI documents in docs/ are what the code serves and publishes.
If this fails, run `make docs` and commit the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_shared.apidocs import asyncapi_document, expected_files
from crm_shared.events.catalog import CATALOG, TOPICS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted(expected_files(ROOT)), ids=lambda p: p.name)
def test_document_matches_the_code(path: Path) -> None:
    expected = expected_files(ROOT)[path]
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run `make docs`"
    assert path.read_text() == expected, f"{path.relative_to(ROOT)} drifted: run `make docs`"


def test_asyncapi_covers_every_topic_and_event() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(TOPICS)
    titles = {message["name"] for message in document["components"]["messages"].values()}
    assert titles == {cls.type for cls in CATALOG}
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert ref in document["components"]["schemas"]


def test_every_write_documents_its_problems() -> None:
    import json

    spec = json.loads((ROOT / "docs/openapi/contacts.json").read_text())
    post = spec["paths"]["/v1/people"]["post"]
    assert "examples" in json.dumps(post["requestBody"])
