"""The contacts service's own settings (`CONTACTS_*`), next to the chassis' ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from crm_shared.settings import ServiceSettings


class ContactsSettings(ServiceSettings):
    # Uploaded CSV files wait here for their job: the API and the worker must share it.
    import_dir: Path = Path("/tmp/crm-contacts-imports")
    import_chunk_rows: int = Field(10_000, ge=1)  # people rows per transaction (set-based)
    # Company rows go through the API's service functions one by one: smaller chunks keep
    # each transaction well inside the lease.
    import_company_chunk_rows: int = Field(500, ge=1)
    import_lease_s: float = Field(60.0, ge=0)  # a job not renewed for this long is taken over
    sync_retention_days: float = Field(30.0, gt=0)  # how long the change feed is kept
