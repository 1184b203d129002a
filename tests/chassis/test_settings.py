"""A service's own settings are read with its prefix, next to the chassis' ones."""

from __future__ import annotations

import pytest

from crm_shared.settings import ServiceSettings, load_settings, settings_of


class ShopSettings(ServiceSettings):
    basket_ttl_s: float = 30.0


def test_a_service_subclass_reads_its_fields_with_the_service_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_BASKET_TTL_S", "12.5")
    monkeypatch.setenv("SHOP_DB_POOL_SIZE", "3")
    settings = load_settings("shop", 8099, ShopSettings)
    shop = settings_of(settings, ShopSettings)
    assert (shop.basket_ttl_s, shop.db_pool_size, shop.port) == (12.5, 3, 8099)


def test_a_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_BASKET_TTL_S", "soon")
    with pytest.raises(ValueError, match="basket_ttl_s"):
        load_settings("shop", 8099, ShopSettings)


def test_settings_of_refuses_the_plain_class() -> None:
    with pytest.raises(TypeError):
        settings_of(load_settings("shop", 8099), ShopSettings)
