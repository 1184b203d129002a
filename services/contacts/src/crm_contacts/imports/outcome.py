"""What applying a chunk comes to, whatever the entity: the counts, and the rejected rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Totals:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0


RECORD_ERROR = """
    INSERT INTO import_errors (id, tenant_id, job_id, row_number, errors)
    VALUES (new_uuid7(), current_setting('app.tenant_id'), $1, $2, $3::jsonb)
"""
