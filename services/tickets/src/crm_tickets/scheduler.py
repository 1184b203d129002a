"""`python -m crm_tickets.scheduler`: runs the SLA scheduler (any number of replicas)."""

from __future__ import annotations

import asyncio

from crm_tickets.sla.scheduler import run_scheduler

if __name__ == "__main__":
    asyncio.run(run_scheduler())
