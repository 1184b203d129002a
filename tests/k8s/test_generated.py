"""The generator behind the per-service manifests and Dockerfiles (scripts/k8s/gen_manifests.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "k8s" / "gen_manifests.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_manifests", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_manifests"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "services", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


TRICKY: dict[str, Any] = {
    "booleans": ["true", "false", "yes", "No", "on", "null", "~", "y"],
    "numbers": ["1", "0.5", "1e3", "0x1F", "012", ".inf"],
    "punctuation": ["25%", "a: b", "#x", "-x", "*", "&a", "!t", "{}", "[]", "", " x", "x "],
    "strings": ["$(DB_USER)", "0.0.0.0/0", "https://x/y", "/healthz", "SCRAM-SHA-512", "a'b\"c"],
    "nested": {"empty_map": {}, "empty_list": [], "list": [{"a": 1}, [], {}, "s", 2, True, None]},
    "numbers_as_values": {"int": 8001, "zero": 0, "negative": -1, "bool": False},
}


def test_yaml_emitter_round_trips(gen: ModuleType) -> None:
    text = "\n".join(gen.to_yaml(TRICKY))
    assert yaml.safe_load(text) == TRICKY


def test_kafka_generator_derives_acls_from_service_facts(gen: ModuleType) -> None:
    facts = gen.KafkaFacts(
        topics=["a.v1", "b.v1"],
        services=[
            {
                "name": "x",
                "port": 1,
                "produces": ["a.v1"],
                "consumes": ["b.v1"],
                "consumer_group": "crm-x",
            },
            {
                "name": "y",
                "port": 2,
                "produces": ["b.v1"],
                "consumes": [],
                "consumer_group": "crm-y",
            },
        ],
    )
    outputs = gen.kafka_outputs(facts)
    by_name = {p.name: list(yaml.safe_load_all(t)) for p, t in outputs.items()}
    topics = {t["spec"]["topicName"] for t in by_name["topics.yaml"]}
    assert topics == {"a.v1", "a.v1.dlq", "b.v1", "b.v1.dlq"}
    users = {
        u["metadata"]["name"]: u["spec"]["authorization"]["acls"] for u in by_name["users.yaml"]
    }
    assert users["crm-x"] == [
        {
            "type": "allow",
            "resource": {"type": "group", "name": "crm-x", "patternType": "literal"},
            "operations": ["Read"],
        },
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "a.v1", "patternType": "literal"},
            "operations": ["Write", "Describe"],
        },
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "b.v1", "patternType": "literal"},
            "operations": ["Read", "Describe"],
        },
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "b.v1.dlq", "patternType": "literal"},
            "operations": ["Write", "Describe"],
        },
    ]
    assert users["crm-y"] == [
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "b.v1", "patternType": "literal"},
            "operations": ["Write", "Describe"],
        },
    ]
