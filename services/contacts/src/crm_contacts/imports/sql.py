"""Bits of SQL the set-based import statements are assembled from."""

from __future__ import annotations

from collections.abc import Iterable

BLANK = "E' \\t\\r\\n'"


def literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on: only `'` needs doubling)."""
    if "\x00" in value:
        raise ValueError("NUL in a name")
    return "'" + value.replace("'", "''") + "'"


def text_array(values: Iterable[str]) -> str:
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::text[]"


def cell(column: str) -> str:
    """A cell of the raw staging table, trimmed, empty as NULL (absent)."""
    return f"nullif(btrim(r.{column}, {BLANK}), '')"


def items(column: str) -> str:
    """A `;`-separated list cell as a text[] in file order (NULL when it has no items)."""
    return (
        "(SELECT array_agg(v ORDER BY o) FROM unnest(string_to_array("
        f"r.{column}, ';')) WITH ORDINALITY t(x, o), "
        f"LATERAL (SELECT nullif(btrim(x, {BLANK}), '')) y(v) WHERE v IS NOT NULL)"
    )


def error(condition: str, pointer: str, detail: str) -> str:
    """One check: the error object when `condition` holds, else NULL. `pointer` and
    `detail` are SQL expressions."""
    return (
        f"CASE WHEN {condition} THEN "
        f"jsonb_build_object('pointer', {pointer}, 'detail', {detail}) END"
    )


def errors(checks: list[str]) -> str:
    """A jsonb array of the checks that failed."""
    if not checks:
        return "'[]'::jsonb"
    return "to_jsonb(array_remove(ARRAY[" + ",\n  ".join(checks) + "]::jsonb[], NULL))"
