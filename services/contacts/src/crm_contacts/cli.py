"""`crm import`: a CSV import through the running contacts service, with a progress bar.

Mounted on the `crm` command line through the `crm.commands` entry point group. Kept light:
every `crm` invocation imports this module, so the HTTP client and rich load only when the
command runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

POLL_S = 0.5
UPLOAD_BLOCK = 1 << 20


def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, first line the header")
    ],
    mapping: Annotated[
        list[str],
        typer.Option("--mapping", "-m", help="COLUMN=FIELD (repeat), e.g. -m E-mail=email"),
    ],
    entity: Annotated[str, typer.Option(help="person | company")] = "person",
    match_on: Annotated[
        str | None,
        typer.Option(
            help="people: email (default) | external_id; companies: external_id (default) | domain"
        ),
    ] = None,
    tenant: Annotated[str, typer.Option(help="tenant to import into")] = "demo",
    url: Annotated[
        str | None, typer.Option(help="contacts API (default: the configured host and port)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="CRM_TOKEN", help="bearer token (default: a dev token for --tenant)"),
    ] = None,
) -> None:
    """Import a CSV file into the contacts service and follow the job to the end."""
    columns = _parse_mapping(mapping)
    base, bearer = _endpoint(url, token, tenant)
    import httpx

    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=60
    ) as client:
        job_url = _upload(client, file, columns, entity, match_on)
        job = _follow(client, job_url)
    typer.echo(
        f"{job['status']}: {job['created_count']} created, {job['updated_count']} updated, "
        f"{job['unchanged_count']} unchanged, {job['error_count']} rejected"
    )
    if job["error_count"]:
        typer.echo(f"rejected rows: {base}{job_url}/errors")
    if job["status"] != "done":
        typer.echo(f"failed: {job.get('failure')}", err=True)
        raise typer.Exit(1)


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    columns = {}
    for pair in pairs:
        column, sep, field = pair.rpartition("=")
        if not sep or not column or not field:
            raise typer.BadParameter(f"{pair!r} is not COLUMN=FIELD", param_hint="--mapping")
        columns[column] = field
    return columns


def _endpoint(url: str | None, token: str | None, tenant: str) -> tuple[str, str]:
    from crm_shared.auth import mint_token
    from crm_shared.service import get_service

    settings = get_service("contacts").settings()
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return base, token or mint_token(settings, tenant=tenant, roles=["admin"], sub="crm-import")


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(UPLOAD_BLOCK):
            yield block


def _upload(
    client: Any, path: Path, columns: dict[str, str], entity: str, match_on: str | None
) -> str:
    import orjson

    response = client.post(
        "/v1/imports",
        params={"mapping": orjson.dumps(columns).decode(), "entity": entity}
        | ({"match_on": match_on} if match_on else {}),  # else the API's default for the entity
        content=_blocks(path),
        headers={"Content-Type": "text/csv"},
    )
    if response.status_code != 202:
        _fail(response)
    return str(response.headers["location"])


def _fail(response: Any) -> None:
    try:
        problem = response.json()
    except ValueError:
        problem = {"title": response.text}
    typer.echo(f"{response.status_code}: {problem.get('detail') or problem.get('title')}", err=True)
    for error in problem.get("errors", []):
        typer.echo(f"  {error.get('pointer', '')}: {error.get('detail', '')}", err=True)
    raise typer.Exit(1)


def _follow(client: Any, job_url: str) -> dict[str, Any]:
    """Poll the job and draw its progress until it ends."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[summary]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        bar = progress.add_task("importing", total=None, summary="")
        while True:
            response = client.get(job_url)
            if response.status_code != 200:
                _fail(response)
            job: dict[str, Any] = response.json()
            progress.update(
                bar,
                total=job["total_rows"],
                completed=job["rows_done"],
                summary=f"{job['created_count']} new, {job['updated_count']} updated, "
                f"{job['error_count']} rejected",
            )
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(POLL_S)
