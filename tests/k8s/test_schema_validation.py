"""The offline schemas really validate: kubeconform rejects what the API server would.

Negative controls for the `kubeconform` step of validate.sh: if a schema silently
failed to load, kubeconform would skip or accept everything, and the overlays'
"valid" would mean nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      containers:
        - name: c
          image: probe:1
          resources: {limits: {cpu: 1, memory: 64Mi}}
          ports: [{name: http, containerPort: 80}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
"""

TOPIC = """
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: probe, labels: {strimzi.io/cluster: crm-kafka}}
spec: {partitions: 3, replicas: 1, config: {retention.ms: 1000}}
"""

CLUSTER = """
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: probe}
spec:
  instances: 1
  storage: {size: 1Gi}
  managed: {roles: [{name: r, login: true, passwordSecret: {name: s}}]}
"""

INVALID = {
    "unknown container field": DEPLOYMENT.replace(
        "image: probe:1", "image: probe:1\n          imagePullPolicyy: Always"
    ),
    "wrong type": DEPLOYMENT.replace("containerPort: 80", "containerPort: eighty"),
    "topic partitions as text": TOPIC.replace("partitions: 3", 'partitions: "3"'),
    "unknown topic field": TOPIC.replace("replicas: 1", "replica: 1"),
    "unknown cluster field": CLUSTER.replace("instances: 1", "instances: 1\n  instancez: 2"),
    "bad enum": TOPIC.replace("kind: KafkaTopic", "kind: KafkaUser").replace(
        "spec: {partitions: 3, replicas: 1, config: {retention.ms: 1000}}",
        "spec: {authentication: {type: scram-sha-256}}",
    ),
    "unknown kind": "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
}


def kubeconform(
    tools: dict[str, str], schemas: dict[str, str], manifest: str, path: Path
) -> subprocess.CompletedProcess[str]:
    path.write_text(manifest)
    return subprocess.run(
        [
            tools["KUBECONFORM"],
            "-strict",
            "-schema-location",
            schemas["K8S_SCHEMAS"] + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            schemas["CRD_SCHEMAS"]
            + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "manifest", [DEPLOYMENT, TOPIC, CLUSTER], ids=["deployment", "topic", "cluster"]
)
def test_valid_manifests_pass(
    tools: dict[str, str], schemas: dict[str, str], manifest: str, tmp_path: Path
) -> None:
    result = kubeconform(tools, schemas, manifest, tmp_path / "ok.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifests_fail(
    tools: dict[str, str], schemas: dict[str, str], case: str, tmp_path: Path
) -> None:
    result = kubeconform(tools, schemas, INVALID[case], tmp_path / "bad.yaml")
    assert result.returncode != 0, f"{case} was accepted: {result.stdout}"
    assert "is invalid" in result.stdout or "could not find schema" in result.stdout, result.stdout
