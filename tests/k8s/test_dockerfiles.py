"""The image rules, checked statically (no Docker engine runs here).

Each service's Dockerfile: multi-stage; uv installs from the lock file (frozen, no dev
dependencies, no editable installs) in a builder stage; the final stage is a slim Python
3.11 image with only the virtual environment, a numeric non-root user, no build tools,
no package installers, and `crm` as entry point. The builder stage is also replayed on
the host, which proves its uv commands work against the real lock files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.k8s.dockerfile import Dockerfile, DockerIgnore, Replay, Stage, load

REPO = Path(__file__).resolve().parents[2]
SERVICES = {
    "contacts": 8001,
    "opportunities": 8002,
    "campaigns": 8003,
    "tickets": 8004,
    "analytics": 8005,
}
SLIM_PYTHON = re.compile(r"^python:3\.11(\.\d+)?-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|python3?-dev|libpq-dev|"
    r"apt-get\s+install|apt\s+install|apk\s+add|pip3?\s+install|uv)\b"
)


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def dockerfile(service: str) -> Dockerfile:
    return load(REPO / "services" / service / "Dockerfile")


def builder_of(df: Dockerfile) -> Stage:
    """The stage the final one copies its virtual environment from."""
    for instruction in df.final.all("COPY"):
        source = instruction.flags().get("from")
        if source:
            return df.stage(source)
    raise AssertionError("the final stage copies nothing from a builder stage")


def test_multi_stage_with_a_slim_python_311_runtime(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    assert SLIM_PYTHON.match(dockerfile.final.base), dockerfile.final.base
    assert builder_of(dockerfile) is not dockerfile.final


def test_builder_installs_the_service_from_the_lock_file(
    dockerfile: Dockerfile, service: str
) -> None:
    builder = builder_of(dockerfile)
    runs = [i.value for i in builder.all("RUN")]
    assert any(re.search(r"pip3? install .*\buv==\S+", r) for r in runs), "pinned uv via pip"
    lock = f"services/{service}/requirements.lock"
    locked = [r for r in runs if lock in r]
    assert locked, f"the builder installs {lock}"
    assert all("--require-hashes" in r and "--no-deps" in r for r in locked), locked
    first_install = next(i.line for i in builder.all("RUN") if lock in i.value)
    lock_copied = [i.line for i in builder.all("COPY") if lock in i.arguments()[:-1]]
    assert lock_copied and min(lock_copied) < first_install, "the lock is copied before use"
    workspace = [r for r in runs if "./shared" in r]
    assert workspace and all(f"./services/{service}" in r and "-e " not in r for r in workspace)
    env = " ".join(i.value for i in builder.all("ENV"))
    assert "VIRTUAL_ENV=/app/.venv" in env


def test_service_lock_is_the_workspace_resolution(service: str) -> None:
    """Every pin in a service's lock is the same pin as in the workspace's requirements.lock."""

    def pins(path: Path) -> dict[str, str]:
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.M))

    workspace = pins(REPO / "requirements.lock")
    own = pins(REPO / "services" / service / "requirements.lock")
    assert own, "the service lock pins its dependencies"
    assert {name: workspace.get(name) for name in own} == own


def test_final_stage_has_no_build_tools_or_installers(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    for run in final.all("RUN"):
        assert not BUILD_TOOLS.search(run.value), f"line {run.line}: {run.value}"
    assert not final.all("ADD"), "no ADD in the final stage"
    for copy in final.all("COPY"):
        assert copy.flags().get("from"), (
            f"line {copy.line}: the runtime takes files only from the builder"
        )
        assert copy.arguments() == ["/app/.venv", "/app/.venv"], "only the virtual environment"
    env = " ".join(i.value for i in final.all("ENV"))
    assert "PATH=/app/.venv/bin:" in env


def test_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.all("USER")
    assert users, "USER in the final stage"
    uid, _, gid = users[-1].value.strip().partition(":")
    assert uid.isdigit() and int(uid) > 0, users[-1].value
    assert not gid or (gid.isdigit() and int(gid) > 0)
    # The Kubernetes pods pin the same UID (runAsUser); keep them in step.
    assert int(uid) == 10001


def test_entrypoint_is_crm_and_the_default_is_the_api(dockerfile: Dockerfile, service: str) -> None:
    (entrypoint,) = dockerfile.final.all("ENTRYPOINT")
    (cmd,) = dockerfile.final.all("CMD")
    assert entrypoint.exec_form == ["crm"]
    assert cmd.exec_form == ["run", service, "api"]
    exposed = {word for i in dockerfile.final.all("EXPOSE") for word in i.arguments()}
    assert str(SERVICES[service]) in exposed


def test_build_command_is_documented(dockerfile: Dockerfile, service: str) -> None:
    text = "\n".join(dockerfile.comments)
    assert f"docker build -f services/{service}/Dockerfile -t crm-{service} ." in text


def test_dockerignore_keeps_the_context_to_what_uv_needs() -> None:
    ignore = DockerIgnore.read(REPO / ".dockerignore")
    needed = ["shared/pyproject.toml", "shared/src/crm_shared/cli.py"]
    needed += [f"services/{s}/pyproject.toml" for s in SERVICES]
    needed += [f"services/{s}/requirements.lock" for s in SERVICES]
    for path in needed:
        assert not ignore.excluded(path), f"{path} must reach the build"
    for path in (
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "deploy/k8s/base/kustomization.yaml",
        "shared/src/crm_shared/__pycache__/cli.cpython-311.pyc",
        "services/contacts/.env",
    ):
        assert ignore.excluded(path), f"{path} must stay out of the build context"


def test_dockerignore_semantics() -> None:
    """The matcher follows Docker's rules (checked here so the test above means something)."""
    path = REPO / ".dockerignore"
    ignore = DockerIgnore.read(path)
    assert ignore.excluded("Makefile")  # `*` at the top level
    assert not ignore.excluded("services/tickets/src/crm_tickets/__init__.py")  # `!services`
    assert ignore.excluded("services/tickets/src/crm_tickets/__pycache__/x.pyc")  # later `**`


def _replay_services() -> list[str]:
    chosen = os.environ.get("CRM_K8S_REPLAY", "contacts")
    return sorted(SERVICES) if chosen == "all" else chosen.split(",")


@pytest.mark.parametrize("name", _replay_services())
def test_builder_stage_replays_on_the_host(name: str, tmp_path: Path) -> None:
    """Run the builder's COPY/RUN steps for real (host uv standing in for the pinned one):
    the resulting environment has the `crm` command, the service and its migrations."""
    if not shutil.which("uv"):
        pytest.skip("uv is not on PATH")
    df = load(REPO / "services" / name / "Dockerfile")
    replay = Replay(
        context=REPO,
        root=tmp_path,
        python=getattr(sys, "_base_executable", sys.executable),
        ignore=DockerIgnore.read(REPO / ".dockerignore"),
    )
    replay.run(builder_of(df), {})
    venv = tmp_path / "app" / ".venv"
    assert (venv / "bin" / "crm").exists(), replay.log
    probe = (
        "import json; from crm_shared.service import load_services; "
        "print(json.dumps([[s.name, str(s.migrations), s.migrations.is_dir()] "
        "for s in load_services()]))"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    declared = {row[0]: row for row in json.loads(result.stdout)}
    assert set(declared) <= {name}, f"only {name} is installed in its image: {declared}"
    if name in declared:
        _, migrations, is_dir = declared[name]
        assert is_dir and str(venv) in migrations, "migrations ship inside the installed package"
    editable = list(venv.glob("lib/python3*/site-packages/*.pth"))
    assert not [p for p in editable if "crm" in p.name], f"editable installs: {editable}"
