"""The e2e fixture: the whole system as separate processes over the real PostgreSQL and Kafka.

On failure, the tail of every process's log goes to stderr (pytest shows it under "Captured
stderr teardown"); the full logs stay in the test's tmp_path.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest

from tests.e2e.system import System

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
async def system(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[System]:
    """Every service's API and worker and the ERP bridge, running; stopped afterwards whatever
    happened (SIGTERM, then SIGKILL after 10 s)."""
    crm = System(workdir=tmp_path)
    try:
        await crm.prepare()
        crm.start()
        await crm.wait_healthy()
        yield crm
    except BaseException:
        request.node.stash[FAILED] = True
        raise
    finally:
        crm.stop()
        if request.node.stash.get(FAILED, False):
            sys.stderr.write(f"\nprocess logs (full logs in {tmp_path}):\n{crm.logs()}\n")
