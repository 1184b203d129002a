"""The "ERP": a tiny append-only ledger in a JSON-lines file (fsynced per entry).

It remembers which CRM events it has handled, accepted quotes, and the orders it created, so a
restarted bridge neither loses nor repeats work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._staged: list[dict[str, Any]] = []
        self._load()

    def _load(self) -> None:
        self.handled: set[str] = set()
        self.quotes: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                self._apply(json.loads(line))

    def _apply(self, entry: dict[str, Any]) -> None:
        self.handled.add(entry["event_id"])
        if entry["kind"] == "quote":
            self.quotes[entry["opportunity_id"]] = entry
        elif entry["kind"] == "order":
            self.orders[entry["order_id"]] = entry

    def stage(self, entry: dict[str, Any]) -> None:
        """Visible at once; written by `flush` once the Kafka transaction has committed."""
        self._staged.append(entry)
        self._apply(entry)

    def flush(self) -> None:
        with self.path.open("a") as handle:
            for entry in self._staged:
                handle.write(json.dumps(entry, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._staged.clear()

    def discard(self) -> None:
        """The transaction aborted: forget what it staged (its input will be read again)."""
        self._staged.clear()
        self._load()
