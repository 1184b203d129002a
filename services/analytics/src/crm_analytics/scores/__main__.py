"""`python -m crm_analytics.scores`: the score scheduler process (recomputes tenants whose
orders changed, and every tenant at least daily). Interval: ANALYTICS_SCORES_INTERVAL_S."""

from __future__ import annotations

import asyncio
import signal

from crm_analytics.main import spec
from crm_analytics.scores.schedule import interval_from_env, run_forever
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.logging import configure_logging


async def main() -> None:
    settings = spec.settings()
    configure_logging(settings.service, settings.log_level)
    engine = create_engine(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await run_forever(create_sessionmaker(engine), settings, interval_from_env(), stopping)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
