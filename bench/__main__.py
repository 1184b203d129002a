"""`make bench`: run every benchmark module in this folder (or those named in BENCH).

A benchmark is a module here with a `main()` that measures the service against a reference doing
the same work in the same run and writes `bench/results/<name>.{json,md,svg}`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

HELPERS = {"chart", "reference"}


def available() -> list[str]:
    here = str(Path(__file__).parent)
    return sorted(
        m.name
        for m in pkgutil.iter_modules([here])
        if not m.name.startswith("_") and m.name not in HELPERS
    )


def main() -> None:
    wanted = os.environ.get("BENCH", "").split() or available()
    unknown = set(wanted) - set(available())
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {available()}")
    for name in wanted:
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.{name}").main()
        print(f"== bench.{name} took {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
