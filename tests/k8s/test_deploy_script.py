"""scripts/k8s/deploy.sh against a recording stand-in for kubectl: the order is the point
(platform, secrets, readiness, migrations to completion, only then the rollout)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "scripts" / "k8s" / "deploy.sh"

FAKE_KUBECTL = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$KUBECTL_LOG"
case "$*" in
  *"get secret crm-contacts-db-app"*) exit 0 ;;          # already provisioned
  *"get secret "*) exit 1 ;;                              # missing
  *"get job -l crm/deploy-phase=migrate -o name"*)
      printf 'job.batch/crm-contacts-migrate\njob.batch/crm-tickets-migrate\n' ;;
  *"get job.batch/crm-tickets-migrate -o jsonpath"*) printf '%s' "${TICKETS_JOB_STATE:-Complete}" ;;
  *"get job.batch/"*"-o jsonpath"*) printf 'Complete' ;;
  *"get deployment -l crm/deploy-phase=rollout -o name"*)
      printf 'deployment.apps/crm-contacts-api\ndeployment.apps/crm-contacts-relay\n' ;;
esac
exit 0
"""


def run_deploy(rendered: Path, tmp_path: Path, **env: str) -> tuple[int, list[str], str]:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "kubectl.log"
    result = subprocess.run(
        ["bash", str(DEPLOY), "dev", "--rendered", str(rendered)],
        env={**os.environ, "KUBECTL": str(kubectl), "KUBECTL_LOG": str(log), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stderr


def index(calls: list[str], *fragments: str) -> int:
    for i, call in enumerate(calls):
        if all(fragment in call for fragment in fragments):
            return i
    raise AssertionError(f"no kubectl call with {fragments!r}:\n" + "\n".join(calls))


@pytest.fixture
def dev_yaml(rendered_dir: Path) -> Path:
    return rendered_dir / "dev.yaml"


def test_migrations_complete_before_the_rollout(dev_yaml: Path, tmp_path: Path) -> None:
    code, calls, stderr = run_deploy(dev_yaml, tmp_path)
    assert code == 0, stderr
    platform = index(calls, "apply", "-l !crm/deploy-phase")
    first_secret = index(calls, "create secret generic")
    ready = index(calls, "wait --for=condition=Ready kafka/crm-kafka")
    databases = index(calls, "database.postgresql.cnpg.io --all")
    delete_jobs = index(calls, "delete job -l crm/deploy-phase=migrate")
    migrate = index(calls, "apply", "-l crm/deploy-phase=migrate")
    last_job_check = max(i for i, c in enumerate(calls) if "-o jsonpath" in c and "job.batch/" in c)
    rollout = index(calls, "apply", "-l crm/deploy-phase=rollout")
    status = index(calls, "rollout status deployment.apps/crm-contacts-api")
    assert platform < first_secret < ready < databases < delete_jobs < migrate
    assert migrate < last_job_check < rollout < status


def test_missing_role_secrets_are_created_with_their_role_names(
    dev_yaml: Path, tmp_path: Path
) -> None:
    code, calls, stderr = run_deploy(dev_yaml, tmp_path)
    assert code == 0, stderr
    created = {c.split()[5]: c for c in calls if c.startswith("-n crm create secret generic")}
    services = ("contacts", "opportunities", "campaigns", "tickets", "analytics")
    expected = {f"crm-{s}-db-{r}" for s in services for r in ("owner", "app")}
    assert set(created) == expected - {"crm-contacts-db-app"}  # that one already exists
    for name, call in created.items():
        role = name.replace("-db-", "_").replace("-", "_")
        assert f"--from-literal=username={role}" in call
        assert "--type=kubernetes.io/basic-auth" in call
        assert "--from-literal=password" not in call, "passwords never on the command line"


def test_a_failed_migration_stops_before_the_rollout(dev_yaml: Path, tmp_path: Path) -> None:
    code, calls, stderr = run_deploy(dev_yaml, tmp_path, TICKETS_JOB_STATE="Failed")
    assert code != 0
    assert "crm-tickets-migrate failed" in stderr
    assert not [c for c in calls if "crm/deploy-phase=rollout" in c]
