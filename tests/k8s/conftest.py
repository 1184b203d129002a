"""Fixtures for the deployment checks: rendered overlays, schemas, code facts.

`scripts/k8s/validate.sh` renders the overlays once and passes the directory in
CRM_K8S_RENDERED_DIR; run on their own (plain `pytest tests/k8s`), the tests install
kustomize through the same script and render into a temporary directory. They skip
only when the tools cannot be installed at all (no Go toolchain, no module proxy).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VALIDATE = REPO / "scripts" / "k8s" / "validate.sh"
OVERLAYS = ("dev", "prod")

Manifest = dict[str, Any]


@pytest.fixture(scope="session", autouse=True)
def kafka_for_tests() -> None:
    """Offline checks need no broker: overrides the suite-wide fixture of tests/conftest.py."""


def _script(*args: str) -> dict[str, str]:
    """Run a validate.sh sub-command; return the KEY=VALUE lines it prints."""
    result = subprocess.run(
        ["bash", str(VALIDATE), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(
            f"validate.sh {' '.join(args)} failed, so the Kubernetes tools are not available "
            f"here: {result.stderr.strip()[-600:]}"
        )
    pairs = (line.partition("=") for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, _, value in pairs}


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    """Paths of the pinned kustomize and kubeconform binaries (installed on demand)."""
    return _script("install")


@pytest.fixture(scope="session")
def schemas() -> dict[str, str]:
    """K8S_SCHEMAS and CRD_SCHEMAS directories (converted on demand)."""
    if os.environ.get("CRM_K8S_K8S_SCHEMAS") and os.environ.get("CRM_K8S_CRD_SCHEMAS"):
        return {
            "K8S_SCHEMAS": os.environ["CRM_K8S_K8S_SCHEMAS"],
            "CRD_SCHEMAS": os.environ["CRM_K8S_CRD_SCHEMAS"],
        }
    return _script("schemas")


@pytest.fixture(scope="session")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("CRM_K8S_RENDERED_DIR")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("rendered")
    _script("install")
    result = subprocess.run(
        ["bash", str(VALIDATE), "render", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kustomize build failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def rendered(rendered_dir: Path) -> dict[str, list[Manifest]]:
    """overlay name -> every object of `kustomize build overlays/<name>`."""
    result = {}
    for overlay in OVERLAYS:
        with (rendered_dir / f"{overlay}.yaml").open() as handle:
            result[overlay] = [doc for doc in yaml.safe_load_all(handle) if doc]
    return result


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(rendered: dict[str, list[Manifest]], overlay: str) -> list[Manifest]:
    return rendered[overlay]


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise AssertionError(f"no {kind} {name}")


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


# --- what the code declares ---------------------------------------------------------------


@dataclass(frozen=True)
class CodeService:
    name: str
    port: int
    produces: tuple[str, ...]
    consumes: tuple[str, ...]
    consumer_group: str


@dataclass(frozen=True)
class CodeFacts:
    topics: tuple[str, ...]
    services: dict[str, CodeService]


@pytest.fixture(scope="session")
def code() -> CodeFacts:
    """Topics and services as the code declares them (never a second hand-written list)."""
    try:
        from crm_shared.events.catalog import TOPICS
        from crm_shared.service import load_services
    except ImportError as exc:
        pytest.skip(
            "crm_shared.service.load_services / crm_shared.events.catalog.TOPICS are not "
            f"importable in this environment ({exc}); run inside the uv environment"
        )
    try:
        specs = load_services()
    except ImportError as exc:  # an entry point whose module is not written yet
        pytest.skip(f"load_services() cannot load every declared service yet: {exc}")
    services = {
        s.name: CodeService(
            name=s.name,
            port=s.port,
            produces=tuple(s.produces),
            consumes=tuple(s.consumes),
            consumer_group=s.consumer_group,
        )
        for s in specs
    }
    if not services:
        pytest.skip("load_services() found no installed service (uv sync --all-packages)")
    return CodeFacts(topics=tuple(TOPICS), services=services)
