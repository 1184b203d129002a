"""`crm import`: the command line against the contacts API running as a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from crm_shared.auth import mint_token

CRM = [sys.executable, "-m", "crm_shared.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(contacts_app: FastAPI) -> Iterator[str]:
    """The contacts API on the test database, as `crm run contacts api` starts it."""
    settings = contacts_app.state.settings
    port = free_port()
    env = os.environ | {
        "CONTACTS_DATABASE_URL": settings.database_url,
        "CONTACTS_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "CONTACTS_PORT": str(port),
        "CONTACTS_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([*CRM, "run", "contacts", "api"], env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def crm_import(server: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CRM, "import", *args, "--url", server],
        env=os.environ | {"CRM_TOKEN": token, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_crm_import_runs_the_job_and_reports_it(
    server: str, contacts_app: FastAPI, tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    token = mint_token(contacts_app.state.settings, tenant=tenant, roles=["admin"])
    csv_file = tmp_path / "people.csv"
    rows = [f"cli{i}@example.com,Cli{i}" for i in range(40)] + ["not-an-email,Bad"]
    csv_file.write_text("E-mail,Name\n" + "\n".join(rows) + "\n")

    done = crm_import(server, token, str(csv_file), "-m", "E-mail=email", "-m", "Name=first_name")
    assert done.returncode == 0, done.stderr
    assert "done: 40 created, 0 updated, 0 unchanged, 1 rejected" in done.stdout
    assert "/errors" in done.stdout  # where the report of rejected rows is

    again = crm_import(server, token, str(csv_file), "-m", "E-mail=email", "-m", "Name=first_name")
    assert "done: 0 created, 0 updated, 40 unchanged, 1 rejected" in again.stdout


def test_crm_import_of_companies_matches_on_external_id_by_default(
    server: str, contacts_app: FastAPI, tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    token = mint_token(contacts_app.state.settings, tenant=tenant, roles=["admin"])
    csv_file = tmp_path / "companies.csv"
    rows = [f"Firm {i},erp-{i},firm{i}.example" for i in range(12)] + [",erp-x,nameless.example"]
    csv_file.write_text("Name,Ref,Web\n" + "\n".join(rows) + "\n")
    mapping = ["-m", "Name=name", "-m", "Ref=external_id", "-m", "Web=domain"]

    done = crm_import(server, token, str(csv_file), "--entity", "company", *mapping)
    assert done.returncode == 0, done.stderr
    assert "done: 12 created, 0 updated, 0 unchanged, 1 rejected" in done.stdout

    by_domain = ["--entity", "company", "--match-on", "domain"]
    again = crm_import(server, token, str(csv_file), *by_domain, *mapping)
    assert "done: 0 created, 0 updated, 12 unchanged, 1 rejected" in again.stdout


def test_crm_import_explains_a_refused_request(
    server: str, contacts_app: FastAPI, tmp_path: Path
) -> None:
    token = mint_token(contacts_app.state.settings, tenant="t-cli", roles=["admin"])
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("E-mail\na@example.com\n")

    unknown = crm_import(server, token, str(csv_file), "-m", "E-mail=shoe_size")
    assert unknown.returncode == 1
    assert "unknown field shoe_size" in unknown.stderr

    companies = crm_import(
        server, token, str(csv_file), "--entity", "company", "-m", "E-mail=email"
    )
    assert companies.returncode == 1 and "unknown field email" in companies.stderr

    malformed = crm_import(server, token, str(csv_file), "-m", "E-mail")
    assert malformed.returncode != 0 and "COLUMN=FIELD" in malformed.stderr
