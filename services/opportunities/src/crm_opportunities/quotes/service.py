"""Products, price lists, line items and quotes with exact (Decimal) totals.

Totals, each rounded half up to the cent:
  line_total     = quantity x unit_price x (100 - line discount %) / 100
  subtotal       = sum of line totals
  discount_total = subtotal x quote discount % / 100
  tax_total      = (subtotal - discount_total) x tax rate % / 100
  total          = subtotal - discount_total + tax_total
Quote numbers come from a per-tenant counter row updated in the quote's own transaction: the
row lock serialises concurrent quotes and a rollback returns the number, so there are no gaps.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import delete, select, text

from crm_opportunities.deals.models import LineItem, Opportunity
from crm_opportunities.deals.service import get_opportunity, win_from_quote
from crm_opportunities.money import cents
from crm_opportunities.quotes.models import (
    Price,
    PriceList,
    Product,
    Quote,
    QuoteLine,
    SalesSettings,
)
from crm_opportunities.quotes.schemas import (
    ExchangeRatesIn,
    LineItemIn,
    PriceListCreate,
    ProductCreate,
    ProductUpdate,
    QuoteCreate,
    SalesSettingsIn,
)
from crm_opportunities.teams.service import Visibility
from crm_shared.errors import Conflict, NotFound, ValidationFailed
from crm_shared.events.opportunities import QuoteAccepted, QuoteSent
from crm_shared.uow import UnitOfWork

HUNDRED = Decimal(100)
NEXT_NUMBER = text(
    "INSERT INTO quote_counters (id, tenant_id, last_number) VALUES (:id, :tenant, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET last_number = quote_counters.last_number + 1 "
    "RETURNING last_number"
)


def _invalid(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        "One or more fields are invalid.",
        errors=[{"pointer": pointer, "in": "body", "detail": detail}],
    )


# --- products and price lists --------------------------------------------------------------


async def create_product(uow: UnitOfWork, data: ProductCreate) -> Product:
    if await uow.session.scalar(select(Product.id).where(Product.sku == data.sku)):
        raise Conflict(f"A product with sku {data.sku} exists.")
    product = Product(tenant_id=uow.tenant_id, sku=data.sku, name=data.name, active=data.active)
    uow.session.add(product)
    await uow.session.flush()
    return product


async def get_product(uow: UnitOfWork, product_id: uuid.UUID) -> Product:
    product = await uow.session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product {product_id}.")
    return product


async def update_product(uow: UnitOfWork, product_id: uuid.UUID, data: ProductUpdate) -> Product:
    product = await get_product(uow, product_id)
    if data.name is not None:
        product.name = data.name
    if data.active is not None:
        product.active = data.active
    await uow.session.flush()
    return product


async def list_products(uow: UnitOfWork, active: bool | None) -> list[Product]:
    query = select(Product).order_by(Product.sku)
    if active is not None:
        query = query.where(Product.active.is_(active))
    return list((await uow.session.scalars(query)).all())


async def create_price_list(uow: UnitOfWork, data: PriceListCreate) -> PriceList:
    ids = [p.product_id for p in data.prices]
    known = set((await uow.session.scalars(select(Product.id).where(Product.id.in_(ids)))).all())
    for i, p in enumerate(data.prices):
        if p.product_id not in known:
            raise _invalid(f"/prices/{i}/product_id", "no such product")
    price_list = PriceList(
        tenant_id=uow.tenant_id,
        name=data.name,
        currency=data.currency,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
    )
    price_list.prices = [
        Price(tenant_id=uow.tenant_id, product_id=p.product_id, unit_price=p.unit_price)
        for p in data.prices
    ]
    uow.session.add(price_list)
    await uow.session.flush()
    return price_list


async def get_price_list(uow: UnitOfWork, price_list_id: uuid.UUID) -> PriceList:
    price_list = await uow.session.get(PriceList, price_list_id)
    if price_list is None:
        raise NotFound(f"No price list {price_list_id}.")
    return price_list


async def list_price_lists(uow: UnitOfWork) -> list[PriceList]:
    return list((await uow.session.scalars(select(PriceList).order_by(PriceList.name))).all())


# --- line items ----------------------------------------------------------------------------


async def set_line_items(
    uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID, items: list[LineItemIn]
) -> list[LineItem]:
    opp = await get_opportunity(uow, vis, opp_id, for_update=True)
    ids = [i.product_id for i in items]
    products = {
        p.id: p
        for p in (await uow.session.scalars(select(Product).where(Product.id.in_(ids)))).all()
    }
    for n, item in enumerate(items):
        product = products.get(item.product_id)
        if product is None:
            raise _invalid(f"/{n}/product_id", "no such product")
        if not product.active:
            raise _invalid(f"/{n}/product_id", "this product is not active")
    await uow.session.execute(delete(LineItem).where(LineItem.opportunity_id == opp.id))
    rows = [
        LineItem(
            tenant_id=uow.tenant_id,
            opportunity_id=opp.id,
            product_id=i.product_id,
            quantity=i.quantity,
            discount_pct=i.discount_pct,
        )
        for i in items
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    return rows


async def line_items(uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID) -> list[LineItem]:
    await get_opportunity(uow, vis, opp_id)
    query = select(LineItem).where(LineItem.opportunity_id == opp_id).order_by(LineItem.id)
    return list((await uow.session.scalars(query)).all())


# --- quotes --------------------------------------------------------------------------------


async def create_quote(
    uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID, data: QuoteCreate
) -> Quote:
    opp = await get_opportunity(uow, vis, opp_id)
    items = await line_items(uow, vis, opp_id)
    if not items:
        raise Conflict("The opportunity has no line items to quote.")
    price_list = await get_price_list(uow, data.price_list_id)
    today = datetime.now(UTC).date()
    if data.valid_until is not None and data.valid_until < today:
        raise _invalid("/valid_until", "a quote cannot be valid only in the past")
    if (price_list.valid_from and today < price_list.valid_from) or (
        price_list.valid_to and today > price_list.valid_to
    ):
        raise _invalid("/price_list_id", "this price list is not valid today")
    prices = {p.product_id: p.unit_price for p in price_list.prices}
    products = {
        p.id: p
        for p in (
            await uow.session.scalars(
                select(Product).where(Product.id.in_([i.product_id for i in items]))
            )
        ).all()
    }
    lines = []
    for n, item in enumerate(items):
        if item.product_id not in prices:
            raise _invalid(
                "/price_list_id", f"product {products[item.product_id].sku} has no price in it"
            )
        unit = prices[item.product_id]
        lines.append(
            QuoteLine(
                tenant_id=uow.tenant_id,
                position=n,
                product_id=item.product_id,
                sku=products[item.product_id].sku,
                name=products[item.product_id].name,
                quantity=item.quantity,
                unit_price=unit,
                discount_pct=item.discount_pct,
                line_total=cents(item.quantity * unit * (HUNDRED - item.discount_pct) / HUNDRED),
            )
        )
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    discount_total = cents(subtotal * data.discount_pct / HUNDRED)
    tax_total = cents((subtotal - discount_total) * data.tax_rate / HUNDRED)
    number = await uow.session.scalar(NEXT_NUMBER, {"id": uuid.uuid4(), "tenant": uow.tenant_id})
    quote = Quote(
        tenant_id=uow.tenant_id,
        number=int(number or 0),
        opportunity_id=opp.id,
        price_list_id=price_list.id,
        currency=price_list.currency,
        status="draft",
        discount_pct=data.discount_pct,
        tax_rate=data.tax_rate,
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        total=subtotal - discount_total + tax_total,
        valid_until=data.valid_until,
    )
    quote.lines = lines
    uow.session.add(quote)
    await uow.session.flush()
    return quote


async def get_quote(
    uow: UnitOfWork, vis: Visibility, quote_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Quote, Opportunity]:
    query = select(Quote).where(Quote.id == quote_id)
    quote = await uow.session.scalar(query.with_for_update() if for_update else query)
    if quote is None:
        raise NotFound(f"No quote {quote_id}.")
    try:
        opp = await get_opportunity(uow, vis, quote.opportunity_id, for_update=for_update)
    except NotFound:
        raise NotFound(f"No quote {quote_id}.") from None
    _expire(quote)
    return quote, opp


async def quotes_of(uow: UnitOfWork, vis: Visibility, opp_id: uuid.UUID) -> list[Quote]:
    await get_opportunity(uow, vis, opp_id)
    rows = (
        await uow.session.scalars(
            select(Quote).where(Quote.opportunity_id == opp_id).order_by(Quote.number)
        )
    ).all()
    for quote in rows:
        _expire(quote)
    return list(rows)


def _expire(quote: Quote, today: date | None = None) -> None:
    today = today or datetime.now(UTC).date()
    if quote.status in ("draft", "sent") and quote.valid_until and quote.valid_until < today:
        quote.status = "expired"


async def decide(uow: UnitOfWork, vis: Visibility, quote_id: uuid.UUID, action: str) -> Quote:
    quote, opp = await get_quote(uow, vis, quote_id, for_update=True)
    now = datetime.now(UTC)
    allowed = {"send": "draft", "accept": "sent", "reject": "sent"}[action]
    if quote.status != allowed:
        raise Conflict(f"A {quote.status} quote cannot be {action}ed; it must be {allowed}.")
    event_fields = {
        "tenant_id": uow.tenant_id,
        "contact_id": str(opp.person_id),
        "quote_id": str(quote.id),
        "opportunity_id": str(opp.id),
        "total": quote.total,
        "currency": quote.currency,
    }
    if action == "send":
        quote.status, quote.sent_at = "sent", now
        uow.publish(QuoteSent(**event_fields))
    elif action == "accept":
        quote.status, quote.decided_at = "accepted", now
        # What the customer accepted is what the deal is worth (forecast, won event, ERP).
        opp.amount, opp.currency = quote.total, quote.currency
        uow.publish(QuoteAccepted(**event_fields))
        settings = await uow.session.scalar(select(SalesSettings))
        if settings is None or settings.accepting_quote_wins_deal:
            await win_from_quote(uow, opp, f"quote {quote.number} accepted")
    else:
        quote.status, quote.decided_at = "rejected", now
    quote.updated_at = now
    await uow.session.flush()
    return quote


async def get_settings(uow: UnitOfWork) -> SalesSettings:
    settings = await uow.session.scalar(select(SalesSettings))
    return settings or SalesSettings(
        tenant_id=uow.tenant_id, accepting_quote_wins_deal=True, exchange_rates={}
    )


async def put_settings(uow: UnitOfWork, data: SalesSettingsIn) -> SalesSettings:
    settings = await uow.session.scalar(select(SalesSettings).with_for_update())
    if settings is None:
        settings = SalesSettings(tenant_id=uow.tenant_id, exchange_rates={})
        uow.session.add(settings)
    settings.accepting_quote_wins_deal = data.accepting_quote_wins_deal
    await uow.session.flush()
    return settings


async def put_rates(uow: UnitOfWork, data: ExchangeRatesIn) -> SalesSettings:
    settings = await uow.session.scalar(select(SalesSettings).with_for_update())
    if settings is None:
        settings = SalesSettings(tenant_id=uow.tenant_id, accepting_quote_wins_deal=True)
        uow.session.add(settings)
    settings.base_currency = data.base_currency
    settings.exchange_rates = {code: str(rate) for code, rate in sorted(data.rates.items())}
    await uow.session.flush()
    return settings


def rates_of(settings: SalesSettings | None) -> tuple[str | None, dict[str, Decimal]]:
    if settings is None or settings.base_currency is None:
        return None, {}
    rates = {code: Decimal(rate) for code, rate in (settings.exchange_rates or {}).items()}
    rates[settings.base_currency] = Decimal(1)
    return settings.base_currency, rates
