from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_opportunities.permissions import Admin, Reader, Writer
from crm_opportunities.quotes import service
from crm_opportunities.quotes.schemas import (
    ExchangeRatesIn,
    ExchangeRatesRead,
    LineItemIn,
    LineItemRead,
    PriceListCreate,
    PriceListRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    QuoteCreate,
    QuoteRead,
    SalesSettingsIn,
    SalesSettingsRead,
)
from crm_opportunities.teams.service import visibility
from crm_shared.idempotency import idempotent
from crm_shared.web import UoW

router = APIRouter(tags=["quotes"])


@router.post(
    "/v1/products",
    status_code=201,
    response_model=ProductRead,
    tags=["products"],
    summary="Create a product",
)
async def create_product(body: ProductCreate, uow: UoW, _: Admin) -> ProductRead:
    async with uow:
        return ProductRead.model_validate(await service.create_product(uow, body))


@router.get("/v1/products", response_model=list[ProductRead], tags=["products"], summary="Products")
async def list_products(uow: UoW, _: Reader, active: bool | None = None) -> list[ProductRead]:
    async with uow:
        return [ProductRead.model_validate(p) for p in await service.list_products(uow, active)]


@router.patch(
    "/v1/products/{product_id}",
    response_model=ProductRead,
    tags=["products"],
    summary="Rename or (de)activate a product",
)
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, uow: UoW, _: Admin
) -> ProductRead:
    async with uow:
        return ProductRead.model_validate(await service.update_product(uow, product_id, body))


@router.post(
    "/v1/price-lists",
    status_code=201,
    response_model=PriceListRead,
    tags=["products"],
    summary="Create a price list (currency, validity, a price per product)",
)
async def create_price_list(body: PriceListCreate, uow: UoW, _: Admin) -> PriceListRead:
    async with uow:
        return PriceListRead.model_validate(await service.create_price_list(uow, body))


@router.get(
    "/v1/price-lists",
    response_model=list[PriceListRead],
    tags=["products"],
    summary="Price lists",
)
async def list_price_lists(uow: UoW, _: Reader) -> list[PriceListRead]:
    async with uow:
        return [PriceListRead.model_validate(p) for p in await service.list_price_lists(uow)]


@router.put(
    "/v1/opportunities/{opp_id}/line-items",
    response_model=list[LineItemRead],
    summary="Replace a deal's line items",
)
async def set_line_items(
    opp_id: uuid.UUID, body: list[LineItemIn], uow: UoW, principal: Writer
) -> list[LineItemRead]:
    async with uow:
        vis = await visibility(uow, principal)
        rows = await service.set_line_items(uow, vis, opp_id, body)
        return [LineItemRead.model_validate(r) for r in rows]


@router.get(
    "/v1/opportunities/{opp_id}/line-items",
    response_model=list[LineItemRead],
    summary="A deal's line items",
)
async def get_line_items(opp_id: uuid.UUID, uow: UoW, principal: Reader) -> list[LineItemRead]:
    async with uow:
        vis = await visibility(uow, principal)
        return [LineItemRead.model_validate(r) for r in await service.line_items(uow, vis, opp_id)]


@router.post(
    "/v1/opportunities/{opp_id}/quotes",
    status_code=201,
    response_model=QuoteRead,
    summary="Quote a deal's line items from a price list (numbered without gaps)",
)
async def create_quote(
    opp_id: uuid.UUID, body: QuoteCreate, request: Request, uow: UoW, principal: Writer
) -> JSONResponse:
    async with uow:
        vis = await visibility(uow, principal)

        async def work() -> tuple[BaseModel, dict[str, str]]:
            quote = QuoteRead.model_validate(await service.create_quote(uow, vis, opp_id, body))
            return quote, {"Location": f"/v1/quotes/{quote.id}"}

        return await idempotent(uow, request, work)


@router.get(
    "/v1/opportunities/{opp_id}/quotes",
    response_model=list[QuoteRead],
    summary="A deal's quotes",
)
async def list_quotes(opp_id: uuid.UUID, uow: UoW, principal: Reader) -> list[QuoteRead]:
    async with uow:
        vis = await visibility(uow, principal)
        return [QuoteRead.model_validate(q) for q in await service.quotes_of(uow, vis, opp_id)]


@router.get("/v1/quotes/{quote_id}", response_model=QuoteRead, summary="Get a quote")
async def get_quote(quote_id: uuid.UUID, uow: UoW, principal: Reader) -> QuoteRead:
    async with uow:
        vis = await visibility(uow, principal)
        quote, _ = await service.get_quote(uow, vis, quote_id)
        return QuoteRead.model_validate(quote)


async def _decide(quote_id: uuid.UUID, action: str, uow: UoW, principal: Writer) -> QuoteRead:
    async with uow:
        vis = await visibility(uow, principal)
        return QuoteRead.model_validate(await service.decide(uow, vis, quote_id, action))


@router.post("/v1/quotes/{quote_id}/send", response_model=QuoteRead, summary="Send (draft)")
async def send_quote(quote_id: uuid.UUID, uow: UoW, principal: Writer) -> QuoteRead:
    return await _decide(quote_id, "send", uow, principal)


@router.post(
    "/v1/quotes/{quote_id}/accept",
    response_model=QuoteRead,
    summary="Record acceptance (sent); may mark the deal won (tenant setting)",
)
async def accept_quote(quote_id: uuid.UUID, uow: UoW, principal: Writer) -> QuoteRead:
    return await _decide(quote_id, "accept", uow, principal)


@router.post("/v1/quotes/{quote_id}/reject", response_model=QuoteRead, summary="Record rejection")
async def reject_quote(quote_id: uuid.UUID, uow: UoW, principal: Writer) -> QuoteRead:
    return await _decide(quote_id, "reject", uow, principal)


@router.get(
    "/v1/sales-settings",
    response_model=SalesSettingsRead,
    tags=["settings"],
    summary="Tenant sales settings",
)
async def get_settings(uow: UoW, _: Reader) -> SalesSettingsRead:
    async with uow:
        return SalesSettingsRead.model_validate(await service.get_settings(uow))


@router.put(
    "/v1/sales-settings",
    response_model=SalesSettingsRead,
    tags=["settings"],
    summary="Change tenant sales settings",
)
async def put_settings(body: SalesSettingsIn, uow: UoW, _: Admin) -> SalesSettingsRead:
    async with uow:
        return SalesSettingsRead.model_validate(await service.put_settings(uow, body))


@router.get(
    "/v1/exchange-rates",
    response_model=ExchangeRatesRead,
    tags=["settings"],
    summary="Tenant exchange rates (used by the forecast's conversion)",
)
async def get_rates(uow: UoW, _: Reader) -> ExchangeRatesRead:
    async with uow:
        base, rates = service.rates_of(await service.get_settings(uow))
    rates.pop(base or "", None)
    return ExchangeRatesRead(base_currency=base, rates=rates)


@router.put(
    "/v1/exchange-rates",
    response_model=ExchangeRatesRead,
    tags=["settings"],
    summary="Set the base currency and the rates into it",
)
async def put_rates(body: ExchangeRatesIn, uow: UoW, _: Admin) -> ExchangeRatesRead:
    async with uow:
        base, rates = service.rates_of(await service.put_rates(uow, body))
    rates.pop(base or "", None)
    return ExchangeRatesRead(base_currency=base, rates=rates)
