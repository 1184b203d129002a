"""Kafka topics and users against what the code declares.

The expectation comes from the code only: `crm_shared.events.catalog.TOPICS` (every
topic of the event catalog) and `crm_shared.service.load_services()` (what each
service's relay produces, what its consumers subscribe to, their group). The rule
for a service's ACLs:
  Write, Describe  on every topic it produces and on `<topic>.dlq` of every topic it consumes
  Read, Describe   on every topic it consumes
  Read             on its consumer group (when it consumes anything)
and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.k8s.conftest import CodeFacts, CodeService, Manifest, of_kind

DEPLOYED = ("contacts", "opportunities", "campaigns", "tickets", "analytics")

Acls = dict[tuple[str, str], set[str]]


def required_acls(service: CodeService) -> Acls:
    acls: Acls = {}
    for topic in service.produces:
        acls.setdefault(("topic", topic), set()).update({"Write", "Describe"})
    for topic in service.consumes:
        acls.setdefault(("topic", topic), set()).update({"Read", "Describe"})
        acls.setdefault(("topic", f"{topic}.dlq"), set()).update({"Write", "Describe"})
    if service.consumes:
        acls.setdefault(("group", service.consumer_group), set()).add("Read")
    return acls


def granted_acls(user: Manifest) -> Acls:
    acls: Acls = {}
    assert user["spec"]["authorization"]["type"] == "simple"
    for rule in user["spec"]["authorization"]["acls"]:
        assert rule.get("type", "allow") == "allow"
        resource = rule["resource"]
        assert resource.get("patternType", "literal") == "literal", "no prefix wildcards"
        assert rule.get("host", "*") == "*"
        key = (resource["type"], resource["name"])
        acls.setdefault(key, set()).update(rule["operations"])
    return acls


def topics_by_name(objects: list[Manifest]) -> dict[str, Manifest]:
    return {
        t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(objects, "KafkaTopic")
    }


def test_a_kafka_topic_for_every_catalog_topic_and_its_dlq(
    objects: list[Manifest], code: CodeFacts
) -> None:
    expected = set(code.topics) | {f"{t}.dlq" for t in code.topics}
    topics = topics_by_name(objects)
    assert set(topics) == expected
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "crm-kafka"
        kind = "dlq" if name.endswith(".dlq") else "events"
        assert topic["metadata"]["labels"]["crm/topic-kind"] == kind, name


def test_every_service_in_the_code_is_deployed(code: CodeFacts) -> None:
    from tests.k8s.test_dockerfiles import SERVICES as IMAGE_PORTS

    for name, service in code.services.items():
        assert name in DEPLOYED, f"{name} is declared in the code but not deployed"
        assert IMAGE_PORTS[name] == service.port, f"{name}: port"
        assert service.consumer_group == f"crm-{name}"


@pytest.mark.parametrize("name", DEPLOYED)
def test_kafka_user_grants_exactly_what_the_code_uses(
    objects: list[Manifest], code: CodeFacts, name: str
) -> None:
    if name not in code.services:
        pytest.skip(f"{name} is not declared by load_services() yet")
    service = code.services[name]
    users = {u["metadata"]["name"]: u for u in of_kind(objects, "KafkaUser")}
    user = users[f"crm-{name}"]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert granted_acls(user) == required_acls(service)
    assert set(users) == {f"crm-{s}" for s in DEPLOYED}


def test_acls_name_only_existing_topics(objects: list[Manifest]) -> None:
    topics = set(topics_by_name(objects))
    for user in of_kind(objects, "KafkaUser"):
        for (kind, resource), _ in granted_acls(user).items():
            if kind == "topic":
                assert resource in topics, f"{user['metadata']['name']}: {resource}"


def test_consumers_do_not_outnumber_partitions(objects: list[Manifest], code: CodeFacts) -> None:
    """Consumers scale with partitions: a pod beyond the partition count would sit idle."""
    topics = topics_by_name(objects)
    for name, service in code.services.items():
        if not service.consumes:
            continue
        deployment = next(
            d
            for d in of_kind(objects, "Deployment")
            if d["metadata"]["name"] == f"crm-{name}-consumer"
        )
        replicas = deployment["spec"]["replicas"]
        fewest = min(topics[t]["spec"]["partitions"] for t in service.consumes)
        assert replicas <= fewest, f"{name}: {replicas} consumers, {fewest} partitions"


def test_committed_kafka_files_are_generated_from_the_code(code: CodeFacts) -> None:
    """Once every deployed service is declared, topics.yaml/users.yaml must be exactly what
    `gen_manifests.py kafka` derives from the code (partitions etc. included)."""
    missing = [name for name in DEPLOYED if name not in code.services]
    if missing:
        pytest.skip(f"not declared by load_services() yet: {', '.join(missing)}")
    script = Path(__file__).resolve().parents[2] / "scripts" / "k8s" / "gen_manifests.py"
    result = subprocess.run(
        [sys.executable, str(script), "kafka", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        result.stderr + "\nregenerate: uv run python scripts/k8s/gen_manifests.py kafka"
    )
