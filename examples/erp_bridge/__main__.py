"""`python -m examples.erp_bridge run` | `end-contract ...`"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from examples.erp_bridge.bridge import Bridge, contract_ended, publish_contract_end
from examples.erp_bridge.ledger import Ledger

app = typer.Typer(help="Reference ERP bridge for the CRM.", no_args_is_help=True)
Bootstrap = Annotated[str, typer.Option(envvar="ERP_KAFKA_BOOTSTRAP_SERVERS")]
LedgerPath = Annotated[Path, typer.Option(envvar="ERP_LEDGER")]


@app.command()
def run(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    ledger: LedgerPath = Path(".local/erp-ledger.jsonl"),
    group: Annotated[str, typer.Option(help="consumer group and transactional id")] = "erp-bridge",
) -> None:
    """Turn won deals into orders, invoices and contracts until Ctrl-C."""
    logging.basicConfig(level=logging.INFO)
    ledger.parent.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        bridge = Bridge(
            bootstrap=bootstrap, ledger=Ledger(ledger), group=group, transactional_id=group
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, bridge.stop)
        await bridge.run()

    asyncio.run(main())


@app.command("end-contract")
def end_contract(
    tenant: str,
    contact_id: str,
    contract_id: str,
    renewed: bool = False,
    bootstrap: Bootstrap = "127.0.0.1:9092",
) -> None:
    """Publish erp.contract.ended (or renewed) for a contract, as the ERP would."""
    event = contract_ended(
        tenant_id=tenant,
        contact_id=contact_id,
        contract_id=contract_id,
        ended_on=date.today(),
        renewed=renewed,
    )
    asyncio.run(publish_contract_end(bootstrap, event))
    typer.echo(f"published {event.type} {event.id}")


if __name__ == "__main__":
    app()
