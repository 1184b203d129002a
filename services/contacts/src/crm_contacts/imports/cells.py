"""The cells whose rules live in Python libraries (email normalisation, phone numbering
plans, Python's own number and date parsing), checked by the very functions the API uses.

Each distinct value of a chunk is checked once, and the verdicts go to the database as a
small table that the set-based checks join. A plain ASCII address (the vast majority) is
normalised without the full validator: for those, the validator's result is provably the
lowercased input (tests compare the two), and it is 60x faster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from crm_contacts.custom_fields.values import parse_query_value
from crm_shared.validation import normalize_email, normalize_phone

LIST_SEP = ";"
BLANK = " \t\r\n"
MAX_EMAIL = 320
MAX_PHONE = 32
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_EMAIL = re.compile(
    rf"[A-Za-z0-9_+-]{{1,64}}(?:\.[A-Za-z0-9_+-]{{1,64}})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
)
SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)

Verdict = tuple[str, str, str | None, str | None]  # kind, raw, value (JSON), error


def email(value: str) -> str:
    """What the API stores for `value` (ValueError when it would refuse it)."""
    if len(value) > MAX_EMAIL:
        raise ValueError(f"String should have at most {MAX_EMAIL} characters")
    if _plain(value):
        return value.lower()
    return normalize_email(value)


def _plain(value: str) -> bool:
    if len(value) > 254 or "--" in value or not PLAIN_EMAIL.fullmatch(value):
        return False
    local, domain = value.split("@")
    return len(local) <= 64 and domain.rsplit(".", 1)[-1].lower() not in SPECIAL_USE


def phone(value: str) -> str:
    if len(value) > MAX_PHONE:
        raise ValueError(f"String should have at most {MAX_PHONE} characters")
    return normalize_phone(value)


def cell(raw: str | None) -> str:
    return (raw or "").strip(BLANK)


def items(raw: str | None) -> list[str]:
    """A list cell's items (`a; b`), as the SQL side splits them."""
    return [i for i in (x.strip(BLANK) for x in cell(raw).split(LIST_SEP)) if i]


@dataclass(frozen=True)
class CellCheck:
    """Which columns (by index) hold what the Python checks need."""

    email_columns: tuple[int, ...] = ()  # one address per cell
    list_email_columns: tuple[int, ...] = ()
    phone_columns: tuple[int, ...] = ()
    typed_columns: tuple[tuple[int, str, str], ...] = ()  # (index, attribute key, type)

    def verdicts(self, rows: Iterable[list[str]]) -> list[Verdict]:
        found: dict[tuple[str, str], Verdict] = {}
        for row in rows:
            for index in self.email_columns:
                self._check(found, "email", _at(row, index), email)
            for index in self.list_email_columns:
                for value in items(_at(row, index)):
                    self._check(found, "email", value, email)
            for index in self.phone_columns:
                for value in items(_at(row, index)):
                    self._check(found, "phone", value, phone)
            for index, key, kind in self.typed_columns:
                self._check(found, f"attr:{key}", _at(row, index), _typed(kind))
        return list(found.values())

    @staticmethod
    def _check(
        found: dict[tuple[str, str], Verdict], kind: str, raw: str, check: Callable[[str], Any]
    ) -> None:
        if not raw or (kind, raw) in found:
            return
        try:
            value = check(raw)
        except ValueError as exc:
            found[(kind, raw)] = (kind, raw, None, str(exc))
        else:
            encoded = value if kind in ("email", "phone") else orjson.dumps(value).decode()
            found[(kind, raw)] = (kind, raw, encoded, None)


def _at(row: list[str], index: int) -> str:
    return cell(row[index]) if index < len(row) else ""


def _typed(kind: str) -> Callable[[str], Any]:
    return lambda raw: parse_query_value(kind, [], raw)
