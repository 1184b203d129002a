"""erp.orders.v1: orders, invoices, contracts (produced by the ERP, outside the system).

The CRM consumes these; the reference bridge in examples/ shows an ERP how to publish them.
Amounts are decimal strings with an ISO 4217 currency.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from crm_shared.events.common import ERP_ORDERS
from crm_shared.events.envelope import EventData


class OrderLine(BaseModel):
    sku: str
    name: str | None = None
    quantity: Decimal
    unit_price: Decimal
    serial_number: str | None = None
    warranty_months: int | None = None


class _ErpEvent(EventData):
    topic = ERP_ORDERS
    key_field = "contact_id"
    contact_id: str
    company_id: str | None = None


class OrderPlaced(_ErpEvent):
    type = "erp.order.placed"
    description = "An order was placed in the ERP."
    order_id: str
    opportunity_id: str | None = None
    placed_at: datetime
    total: Decimal
    currency: str
    lines: list[OrderLine] = []


class OrderCancelled(_ErpEvent):
    type = "erp.order.cancelled"
    description = "An order was cancelled in the ERP."
    order_id: str
    cancelled_at: datetime


class InvoicePaid(_ErpEvent):
    type = "erp.invoice.paid"
    description = "An invoice was paid."
    invoice_id: str
    order_id: str | None = None
    paid_at: datetime
    amount: Decimal
    currency: str


class _ContractEvent(_ErpEvent):
    contract_id: str
    starts_on: date | None = None
    ends_on: date | None = None


class ContractStarted(_ContractEvent):
    type = "erp.contract.started"
    description = "A contract started."


class ContractRenewed(_ContractEvent):
    type = "erp.contract.renewed"
    description = "A contract was renewed."


class ContractEnded(_ContractEvent):
    type = "erp.contract.ended"
    description = "A contract ended (not renewed): the dynamic churn rate's numerator."
    ended_on: date
    renewed: bool = False


EVENTS: list[type[EventData]] = [
    OrderPlaced,
    OrderCancelled,
    InvoicePaid,
    ContractStarted,
    ContractRenewed,
    ContractEnded,
]
