"""Policy over the rendered overlays (dev and prod): what every workload must have."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.k8s.conftest import Manifest, containers, named, of_kind, pod_spec

SERVICES = ("contacts", "opportunities", "campaigns", "tickets", "analytics")
WORKER_PORT = 9000
INGRESS_NAMESPACES = {"ingress-nginx", "monitoring"}
# The password never lands in a ConfigMap: the kubelet expands $(VAR) from secretKeyRefs.
DATABASE_URL = r"postgresql\+asyncpg://\$\((\w+)\):\$\((\w+)\)@([\w-]+):5432/(\w+)"


def workloads(objects: list[Manifest]) -> list[Manifest]:
    return of_kind(objects, "Deployment") + of_kind(objects, "Job")


def component(obj: Manifest) -> str:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"]["labels"]
    return labels["app.kubernetes.io/component"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels + matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def quantity(value: str | int | float) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    assert match, f"not a quantity: {value!r}"
    return float(match.group(1)) * units.get(match.group(2), 1.0)


# --- containers -------------------------------------------------------------------------------


def test_every_container_runs_restricted(objects: list[Manifest]) -> None:
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, name
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in containers(workload):
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where
            assert (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in tmp_volumes, f"{where}: /tmp is a writable emptyDir"


def test_every_container_has_requests_and_limits(objects: list[Manifest]) -> None:
    for workload in workloads(objects):
        for c in containers(workload):
            where = f"{workload['metadata']['name']}/{c['name']}"
            res = c.get("resources", {})
            for resource in ("cpu", "memory"):
                request = res.get("requests", {}).get(resource)
                limit = res.get("limits", {}).get(resource)
                assert request is not None and limit is not None, f"{where}: {resource}"
                assert quantity(request) <= quantity(limit), f"{where}: {resource}"


def test_every_deployment_container_has_the_three_probes(objects: list[Manifest]) -> None:
    for deployment in of_kind(objects, "Deployment"):
        kind = component(deployment)
        for c in containers(deployment):
            where = f"{deployment['metadata']['name']}/{c['name']}"
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            kinds = ("startupProbe", "livenessProbe", "readinessProbe")
            missing = [k for k in kinds if not c.get(k)]
            assert not missing, f"{where}: no {missing}"
            probes: dict[str, dict[str, Any]] = {k: c[k] for k in kinds}
            for probe in probes.values():
                assert probe["httpGet"]["port"] in ports, f"{where}: probe on a declared port"
            paths = {k: v["httpGet"]["path"] for k, v in probes.items()}
            assert paths["livenessProbe"] == paths["startupProbe"] == "/healthz", where
            if kind == "api":
                assert paths["readinessProbe"] == "/readyz", where
            else:
                assert ports[probes["livenessProbe"]["httpGet"]["port"]] == WORKER_PORT, where


# --- availability and scaling -----------------------------------------------------------------


def test_every_deployment_has_its_own_pdb(objects: list[Manifest]) -> None:
    deployments = of_kind(objects, "Deployment")
    pdbs = of_kind(objects, "PodDisruptionBudget")
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [p for p in pdbs if selects(p["spec"]["selector"], labels)]
        assert len(matching) == 1, f"{deployment['metadata']['name']}: {len(matching)} PDBs"
        (pdb,) = matching
        others = [
            d["metadata"]["name"]
            for d in deployments
            if d is not deployment
            and selects(pdb["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert not others, f"PDB {pdb['metadata']['name']} also selects {others}"
        assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]


def test_every_api_deployment_has_an_hpa(objects: list[Manifest]) -> None:
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        targeting = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == name]
        if component(deployment) != "api":
            assert not targeting, f"{name}: workers scale with partitions, not an HPA"
            continue
        assert len(targeting) == 1, name
        (hpa,) = targeting
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns replicas"


def test_service_accounts_never_mount_tokens(objects: list[Manifest]) -> None:
    accounts = {a["metadata"]["name"]: a for a in of_kind(objects, "ServiceAccount")}
    for workload in workloads(objects):
        account = pod_spec(workload)["serviceAccountName"]
        assert account in accounts, workload["metadata"]["name"]
        assert accounts[account]["automountServiceAccountToken"] is False


# --- network ------------------------------------------------------------------------------


def policies_for(objects: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    return [
        p for p in of_kind(objects, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)
    ]


def test_api_pods_are_reachable_only_from_the_ingress_controller(
    objects: list[Manifest],
) -> None:
    for deployment in of_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        policies = policies_for(objects, labels)
        name = deployment["metadata"]["name"]
        assert policies, f"{name}: no NetworkPolicy"
        for policy in policies:
            assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name
            for rule in policy["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    assert set(peer) == {"namespaceSelector"}, f"{name}: {peer}"
                    namespace = peer["namespaceSelector"]["matchLabels"][
                        "kubernetes.io/metadata.name"
                    ]
                    if component(deployment) == "api":
                        assert namespace in INGRESS_NAMESPACES, f"{name}: from {namespace}"
                    else:
                        assert namespace == "monitoring", f"{name}: workers serve only metrics"


def test_workers_reach_only_kafka_their_database_and_dns(objects: list[Manifest]) -> None:
    kafka = named(objects, "Kafka", "crm-kafka")
    cluster = of_kind(objects, "Cluster")[0]["metadata"]["name"]
    for workload in workloads(objects):
        if component(workload) == "api":
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = workload["metadata"]["name"]
        for policy in policies_for(objects, labels):
            for rule in policy["spec"]["egress"]:
                ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
                (peer,) = rule["to"]
                assert "ipBlock" not in peer, f"{name}: no egress outside the cluster"
                pods = peer.get("podSelector", {}).get("matchLabels", {})
                if ports <= {("UDP", 53), ("TCP", 53)}:
                    assert pods == {"k8s-app": "kube-dns"}, name
                elif pods.get("cnpg.io/cluster") == cluster:
                    assert ports == {("TCP", 5432)}, name
                else:
                    assert component(workload) != "migration", f"{name}: database only"
                    assert pods.get("strimzi.io/cluster") == kafka["metadata"]["name"], name
                    listener_ports = {
                        ("TCP", item["port"]) for item in kafka["spec"]["kafka"]["listeners"]
                    }
                    assert ports <= listener_ports, name


# --- routing, configuration, secrets ----------------------------------------------------------


def test_one_ingress_routes_each_service_prefix(objects: list[Manifest]) -> None:
    (ingress,) = of_kind(objects, "Ingress")
    routes = {
        path["path"]: path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert set(routes) == {f"/{s}" for s in SERVICES}
    for svc in SERVICES:
        backend = routes[f"/{svc}"]
        service = named(objects, "Service", backend["name"])
        port = next(p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"])
        api = named(objects, "Deployment", f"crm-{svc}-api")
        assert selects(
            {"matchLabels": service["spec"]["selector"]},
            api["spec"]["template"]["metadata"]["labels"],
        )
        container_ports = {p["name"] for c in containers(api) for p in c["ports"]}
        assert port["targetPort"] in container_ports


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def config_values(objects: list[Manifest], container: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(named(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for name, item in env_of(container).items():
        ref = item.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            values[name] = named(objects, "ConfigMap", ref["name"])["data"][ref["key"]]
        elif "value" in item:
            values[name] = item["value"]
    return values


def test_settings_and_secrets_line_up_with_kafka_and_postgres(objects: list[Manifest]) -> None:
    kafka = named(objects, "Kafka", "crm-kafka")
    (listener,) = [
        item
        for item in kafka["spec"]["kafka"]["listeners"]
        if item.get("authentication", {}).get("type") == "scram-sha-512"
    ]
    assert listener["tls"] is True
    (cluster,) = of_kind(objects, "Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    role_secrets = {r["passwordSecret"]["name"]: r["name"] for r in roles.values()}
    users = {u["metadata"]["name"] for u in of_kind(objects, "KafkaUser")}
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(objects, "Database")}
    operator_secrets = {
        f"{kafka['metadata']['name']}-cluster-ca-cert",
        f"{cluster['metadata']['name']}-ca",
    }
    for workload in workloads(objects):
        svc = workload["metadata"]["labels"]["app.kubernetes.io/name"].removeprefix("crm-")
        prefix = svc.upper() + "_"
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in operator_secrets
        for c in containers(workload):
            where = f"{workload['metadata']['name']}/{c['name']}"
            values = config_values(objects, c)
            refs = {
                n: e["valueFrom"]["secretKeyRef"]
                for n, e in env_of(c).items()
                if "secretKeyRef" in e.get("valueFrom", {})
            }
            for ref in refs.values():
                assert ref["name"] in role_secrets or ref["name"] in users, f"{where}: {ref}"
            assert values[f"{prefix}HOST"] == "0.0.0.0", where
            migration = component(workload) == "migration"
            url_key = prefix + ("MIGRATION_DATABASE_URL" if migration else "DATABASE_URL")
            match = re.fullmatch(DATABASE_URL, values[url_key])
            assert match, f"{where}: {values[url_key]}"
            user_var, password_var, host, database = match.groups()
            assert host == f"{cluster['metadata']['name']}-rw"
            assert database == f"crm_{svc}" and database in databases
            secret = refs[user_var]["name"]
            assert refs[password_var]["name"] == secret
            role = role_secrets[secret]
            if component(workload) == "migration":
                assert role == databases[database]["owner"], f"{where}: migrations run as owner"
            else:
                assert role == values[f"{prefix}APP_ROLE"] != databases[database]["owner"], where
                assert roles[role].get("bypassrls") is not True, where
                assert values[f"{prefix}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
                assert values[f"{prefix}KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
                user = values[f"{prefix}KAFKA_SASL_USERNAME"]
                assert user == f"crm-{svc}" and user in users, where
                assert refs[f"{prefix}KAFKA_SASL_PASSWORD"] == {"name": user, "key": "password"}
                assert values[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"] == (
                    f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
                )
                port_key = "PORT" if component(workload) == "api" else "WORKER_HTTP_PORT"
                assert values[prefix + port_key] == str(c["ports"][0]["containerPort"]), where
            assert roles[role]["login"] is True


def test_databases_and_roles_per_service(objects: list[Manifest]) -> None:
    (cluster,) = of_kind(objects, "Cluster")
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(objects, "Database")}
    assert set(databases) == {f"crm_{s}" for s in SERVICES}
    for svc in SERVICES:
        spec = databases[f"crm_{svc}"]
        assert spec["cluster"]["name"] == cluster["metadata"]["name"]
        assert spec["owner"] == f"crm_{svc}_owner" and {spec["owner"], f"crm_{svc}_app"} <= roles
        assert {"name": "pg_trgm", "ensure": "present"} in spec.get("extensions", [])
        assert spec.get("databaseReclaimPolicy") == "retain"
    (backup,) = of_kind(objects, "ScheduledBackup")
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]


def test_migrations_run_before_the_rollout(objects: list[Manifest]) -> None:
    jobs = {j["metadata"]["name"]: j for j in of_kind(objects, "Job")}
    for svc in SERVICES:
        job = jobs[f"crm-{svc}-migrate"]
        assert job["metadata"]["labels"]["crm/deploy-phase"] == "migrate"
        annotations = job["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "Sync"
        assert int(annotations["argocd.argoproj.io/sync-wave"]) < 0
        (c,) = job["spec"]["template"]["spec"]["containers"]
        assert c["args"] == ["migrate", svc]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    for deployment in of_kind(objects, "Deployment"):
        assert deployment["metadata"]["labels"]["crm/deploy-phase"] == "rollout"
    others = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] not in ("Job", "Deployment")
        and "crm/deploy-phase" in o["metadata"].get("labels", {})
    ]
    assert not others, others


def test_everything_lives_in_the_crm_namespace(objects: list[Manifest]) -> None:
    for obj in objects:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "crm"
        else:
            assert obj["metadata"].get("namespace") == "crm", obj["metadata"]["name"]


def test_images_are_tagged(objects: list[Manifest], overlay: str) -> None:
    for workload in workloads(objects):
        for c in containers(workload):
            image = c["image"]
            repository, _, tag = image.rpartition(":")
            assert repository and tag and tag != "latest", image
            assert repository.endswith(workload["metadata"]["labels"]["app.kubernetes.io/name"])
            if overlay == "prod":
                assert "/" in repository, f"{image}: production pulls from a named registry"


# --- Kafka and PostgreSQL per overlay ---------------------------------------------------------


def test_kafka_cluster_is_kraft_with_a_scram_listener(objects: list[Manifest]) -> None:
    kafka = named(objects, "Kafka", "crm-kafka")
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    spec = kafka["spec"]["kafka"]
    assert spec["version"] == "4.3.1" and spec["metadataVersion"] == "4.3-IV0"
    assert spec["authorization"]["type"] == "simple"
    assert spec["config"]["auto.create.topics.enable"] is False
    (pool,) = of_kind(objects, "KafkaNodePool")
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "crm-kafka"
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert "zookeeper" not in kafka["spec"]


@pytest.mark.parametrize(
    ("overlay_name", "brokers", "instances", "replication", "min_isr"),
    [("dev", 1, 1, 1, 1), ("prod", 3, 3, 3, 2)],
)
def test_overlay_sizes(
    rendered: dict[str, list[Manifest]],
    overlay_name: str,
    brokers: int,
    instances: int,
    replication: int,
    min_isr: int,
) -> None:
    objects = rendered[overlay_name]
    (pool,) = of_kind(objects, "KafkaNodePool")
    assert pool["spec"]["replicas"] == brokers
    (cluster,) = of_kind(objects, "Cluster")
    assert cluster["spec"]["instances"] == instances
    config = named(objects, "Kafka", "crm-kafka")["spec"]["kafka"]["config"]
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert config[key] == replication, key
    assert config["transaction.state.log.replication.factor"] == replication
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == min_isr
    for topic in of_kind(objects, "KafkaTopic"):
        assert topic["spec"]["replicas"] == replication, topic["metadata"]["name"]
        assert topic["spec"]["config"]["min.insync.replicas"] == min_isr
        assert topic["spec"]["replicas"] <= brokers
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    if overlay_name == "dev":
        assert all(h["spec"]["minReplicas"] == h["spec"]["maxReplicas"] == 1 for h in hpas)
        for deployment in of_kind(objects, "Deployment"):
            assert deployment["spec"].get("replicas", 1) == 1, deployment["metadata"]["name"]
        assert "plugins" not in cluster["spec"]
        assert all(b["spec"]["suspend"] for b in of_kind(objects, "ScheduledBackup"))
    else:
        assert all(2 <= h["spec"]["minReplicas"] < h["spec"]["maxReplicas"] for h in hpas)
        assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
        (plugin,) = cluster["spec"]["plugins"]
        assert plugin["isWALArchiver"] is True
        (backup,) = of_kind(objects, "ScheduledBackup")
        assert not backup["spec"].get("suspend")
        assert backup["spec"]["pluginConfiguration"]["name"] == plugin["name"]
