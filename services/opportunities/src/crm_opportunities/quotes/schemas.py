from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crm_opportunities.money import Amount, Currency, Percent
from crm_shared.validation import StrictModel

QuoteStatus = Literal["draft", "sent", "accepted", "rejected", "expired"]
Quantity = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e9"), decimal_places=3),
    AfterValidator(lambda v: v.quantize(Decimal("0.001"))),
]


class ProductCreate(StrictModel):
    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._/-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    active: bool = True


class ProductUpdate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    active: bool | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku: str
    name: str
    active: bool


class PriceIn(StrictModel):
    product_id: uuid.UUID
    unit_price: Amount


class PriceListCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Currency
    valid_from: date | None = None
    valid_to: date | None = None
    prices: Annotated[list[PriceIn], Field(max_length=5000)] = []

    @model_validator(mode="after")
    def _checks(self) -> PriceListCreate:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if len({p.product_id for p in self.prices}) != len(self.prices):
            raise ValueError("a product is priced twice")
        return self


class PriceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    unit_price: Decimal


class PriceListRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    currency: str
    valid_from: date | None
    valid_to: date | None
    prices: list[PriceRead]


class LineItemIn(StrictModel):
    product_id: uuid.UUID
    quantity: Quantity
    discount_pct: Percent = Decimal(0)


class LineItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    quantity: Decimal
    discount_pct: Decimal


class QuoteCreate(StrictModel):
    price_list_id: uuid.UUID
    discount_pct: Percent = Decimal(0)
    tax_rate: Percent = Decimal(0)
    valid_until: date | None = None


class QuoteLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    line_total: Decimal


class QuoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    opportunity_id: uuid.UUID
    price_list_id: uuid.UUID
    currency: str
    status: QuoteStatus
    discount_pct: Decimal
    tax_rate: Decimal
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    valid_until: date | None
    sent_at: datetime | None
    decided_at: datetime | None
    lines: list[QuoteLineRead]
    version: int


class SalesSettingsIn(StrictModel):
    accepting_quote_wins_deal: bool


class SalesSettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    accepting_quote_wins_deal: bool


Rate = Annotated[Decimal, Field(gt=0, le=Decimal("1e9"), max_digits=18, decimal_places=8)]


class ExchangeRatesIn(StrictModel):
    """1 unit of each listed currency = rate units of `base_currency`."""

    base_currency: Currency
    rates: Annotated[dict[Currency, Rate], Field(max_length=200)]


class ExchangeRatesRead(BaseModel):
    base_currency: str | None
    rates: dict[str, Decimal]
