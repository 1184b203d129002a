"""An uploaded CSV read in chunks of whole records, addressed by byte offset, so a job can
stop after any committed chunk and resume exactly there. Memory holds one chunk at a time.

Records end at a newline outside quotes: a line ending with an odd running count of `"`
is inside a quoted field (an escaped quote `""` counts twice, so it keeps the parity).
Blank lines are skipped, as a CSV reader does.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOM = b"\xef\xbb\xbf"
# Python's csv refuses cells over 128 KiB by default, which failed a whole job for one long
# note that COPY takes: no limit of its own (a chunk is in memory anyway; the fields' own
# lengths are checked as the API checks them).
csv.field_size_limit(sys.maxsize)


@dataclass(frozen=True)
class Chunk:
    data: bytes  # whole CSV records, without the header
    rows: int
    end: int  # byte offset just after the chunk: where the next one starts


class BadFile(ValueError):
    """The file cannot be imported at all (no header, not UTF-8)."""


def header(path: Path) -> tuple[list[str], int]:
    """The column names and the byte offset of the first data record."""
    with path.open("rb") as handle:
        first = next(_records(handle), b"")
    offset = len(first)
    if first.startswith(BOM):
        first = first[len(BOM) :]
    try:
        names = next(csv.reader(io.StringIO(first.decode("utf-8"))), [])
    except UnicodeDecodeError as exc:
        raise BadFile("the header is not UTF-8") from exc
    names = [n.strip() for n in names]
    if not any(names):
        raise BadFile("the file has no header line")
    return names, offset


def _records(handle: io.BufferedReader) -> Iterator[bytes]:
    """Whole records (with their line ends), blank lines included as they are."""
    pending: list[bytes] = []
    quotes = 0
    for line in handle:
        pending.append(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            yield b"".join(pending) if len(pending) > 1 else line
            pending, quotes = [], 0
    if pending:  # an unterminated quote: the rest of the file is one (bad) record
        yield b"".join(pending)


def chunks(path: Path, offset: int, size: int) -> Iterator[Chunk]:
    """Chunks of `size` records starting at byte `offset`."""
    with path.open("rb") as handle:
        handle.seek(offset)
        position, rows, parts = offset, 0, []
        for record in _records(handle):
            position += len(record)
            if record.strip():
                parts.append(record)
                rows += 1
            if rows == size:
                yield Chunk(b"".join(parts), rows, position)
                rows, parts = 0, []
        if rows:
            yield Chunk(b"".join(parts), rows, position)


def count_rows(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        handle.seek(offset)
        return sum(1 for record in _records(handle) if record.strip())


def cells_by_record(data: bytes, width: int) -> tuple[list[list[Any]], list[tuple[int, str]]]:
    """The slow path for a chunk COPY refused: record by record, `[n, *cells]` for the good
    ones and `(n, why)` for the others (n counts from 1 in the chunk)."""
    good: list[list[Any]] = []
    bad: list[tuple[int, str]] = []
    records = (r for r in _records(io.BytesIO(data)) if r.strip())  # type: ignore[arg-type]
    for n, record in enumerate(records, 1):
        try:
            cells = next(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))
        except UnicodeDecodeError:
            bad.append((n, "the row is not valid UTF-8"))
            continue
        except csv.Error as exc:
            bad.append((n, f"the row is not valid CSV: {exc}"))
            continue
        if len(cells) != width:
            bad.append((n, f"the row has {len(cells)} cells, the header {width}"))
        elif any("\x00" in c for c in cells):
            bad.append((n, "the row contains a NUL character"))
        else:
            good.append([n, *cells])
    return good, bad


def parse(data: bytes) -> list[list[str]]:
    """A chunk's records as cells; bytes that are not UTF-8 become U+FFFD here (COPY refuses
    such a chunk, and the slow path reports those rows)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline="")))
