"""Hourly prices through the unmodified azure-ai-ml SDK against the ARM stand-in: Azure's vmSizes
estimates parsed (Linux, standard tier), a size without a price left unknown, and the cache per region:
a second call, and a restart on the same database, do not ask ARM again; a day later they do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from compute.azureml import AzureMLFleet
from compute.port import Unavailable
from compute.prices import linux_standard_price, price_list
from domain.money import Money
from storage.repositories import Store
from tests.arm_fixtures import OTHER_SUBSCRIPTION, RESEARCH, VISION, make_fleet
from tests.arm_standin import ArmStandIn
from tests.conftest import FakeClock

VM_SIZES = r"/locations/[^/]+/vmSizes$"
WORKSPACE = r"/workspaces/[^/]+$"


def prices_fleet(arm: ArmStandIn, store: Store, clock: FakeClock) -> AzureMLFleet:
    arm.add_workspace(OTHER_SUBSCRIPTION, VISION.resource_group, VISION.workspace, location="eastus")
    return make_fleet(arm, price_cache=store.prices, clock=clock)


async def test_prices_come_from_azure_linux_standard_tier_and_unknown_stays_unknown(
    arm: ArmStandIn, azure_env: Any, sqlite_store: Store, clock: FakeClock
) -> None:
    fleet = prices_fleet(arm, sqlite_store, clock)
    try:
        prices = await fleet.hourly_prices(RESEARCH.alias)
    finally:
        await fleet.close()
    assert (prices.region, prices.currency, prices.simulated) == ("westeurope", "USD", False)
    assert prices.per_hour("Standard_DS3_v2") == Money(Decimal("0.293"), "USD")  # not 0.0586 (low priority)
    assert prices.per_hour("standard_nc6s_v3") == Money(Decimal("3.06"), "USD")  # not Windows' 3.344
    assert prices.per_hour("Standard_ND96amsr_A100_v4") is None  # Azure publishes no price: unknown
    assert "Standard_ND96amsr_A100_v4" in prices.hourly
    assert prices.per_hour("Standard_Unheard_Of") is None
    assert prices.fetched_at == clock.now
    [call] = arm.requests_matching("GET", VM_SIZES)
    assert call.path.endswith("/locations/westeurope/vmSizes") and "api-version" in call.query


async def test_a_second_call_and_a_restart_do_not_ask_arm_again_and_a_day_later_does(
    arm: ArmStandIn, azure_env: Any, tmp_path: Any, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path / 'prices.db'}"
    store = Store.open(url)
    fleet = prices_fleet(arm, store, clock)
    first = await fleet.hourly_prices(RESEARCH.alias)
    again = await fleet.hourly_prices(RESEARCH.alias)
    assert again == first
    assert len(arm.requests_matching("GET", VM_SIZES)) == 1
    assert len(arm.requests_matching("GET", WORKSPACE)) == 1  # the region, asked once
    east = await fleet.hourly_prices(VISION.alias)  # another region: its own list
    assert east.region == "eastus" and east.per_hour("Standard_DS3_v2") == Money(Decimal("0.2637"), "USD")
    assert len(arm.requests_matching("GET", VM_SIZES)) == 2
    await fleet.close()
    store.close()

    restarted_store = Store.open(url)
    restarted = prices_fleet(arm, restarted_store, clock)
    clock.advance(hours=23)
    try:
        assert (await restarted.hourly_prices(RESEARCH.alias)) == first
        assert len(arm.requests_matching("GET", VM_SIZES)) == 2  # nothing fetched after the restart
        assert len(arm.requests_matching("GET", WORKSPACE)) == 2  # nor the regions
        clock.advance(hours=2)
        refreshed = await restarted.hourly_prices(RESEARCH.alias)
        assert refreshed.fetched_at == clock.now and len(arm.requests_matching("GET", VM_SIZES)) == 3
    finally:
        await restarted.close()
        restarted_store.close()


async def test_an_old_list_is_used_when_azure_cannot_be_asked_and_none_is_an_error(
    arm: ArmStandIn, azure_env: Any, sqlite_store: Store, clock: FakeClock
) -> None:
    fleet = prices_fleet(arm, sqlite_store, clock)
    try:
        arm.fail_next("GET", VM_SIZES, 503, times=10)
        with pytest.raises(Unavailable):
            await fleet.hourly_prices(RESEARCH.alias)
        arm.faults.clear()
        first = await fleet.hourly_prices(RESEARCH.alias)
        clock.advance(days=2)
        arm.fail_next("GET", VM_SIZES, 503, times=10)
        assert await fleet.hourly_prices(RESEARCH.alias) == first
    finally:
        await fleet.close()


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (None, None),
        ({"billingCurrency": "USD", "unitOfMeasure": "OneHour", "values": []}, None),
        (
            {
                "billingCurrency": "USD",
                "unitOfMeasure": "OneHour",
                "values": [
                    {"retailPrice": 0.1, "osType": "Linux", "vmTier": "Spot"},
                    {"retailPrice": 0.2, "osType": "Linux", "vmTier": "LowPriority"},
                    {"retailPrice": 0.9, "osType": "Windows", "vmTier": "Standard"},
                ],
            },
            None,
        ),
        (
            {
                "billingCurrency": "USD",
                "unitOfMeasure": "OneMonth",
                "values": [{"retailPrice": 0.5, "osType": "Linux", "vmTier": "Standard"}],
            },
            None,
        ),
        (
            {
                "billingCurrency": "USD",
                "unitOfMeasure": "OneHour",
                "values": [{"retailPrice": 0.1, "osType": "linux", "vmTier": "standard"}],
            },
            ("USD", Decimal("0.1")),
        ),
        (
            {
                "billing_currency": "EUR",
                "unit_of_measure": "OneHour",
                "values": [{"retail_price": 1.234, "os_type": "Linux", "vm_tier": "Standard"}],
            },
            ("EUR", Decimal("1.234")),
        ),
    ],
)
def test_which_price_is_taken(prices: Any, expected: Any) -> None:
    assert linux_standard_price(prices) == expected


def test_a_size_priced_in_another_currency_is_unknown_not_converted() -> None:
    def size(name: str, currency: str, price: float) -> dict[str, Any]:
        values = [{"retailPrice": price, "osType": "Linux", "vmTier": "Standard"}]
        return {
            "name": name,
            "estimatedVMPrices": {"billingCurrency": currency, "unitOfMeasure": "OneHour", "values": values},
        }

    now = datetime(2026, 12, 1, tzinfo=UTC)
    prices = price_list(
        "westeurope", [size("a", "USD", 1.0), size("b", "USD", 2.0), size("c", "EUR", 3.0)], now
    )
    assert prices.currency == "USD" and prices.per_hour("c") is None and prices.per_hour("b") is not None
    assert prices.fresh(now + timedelta(hours=23)) and not prices.fresh(now + timedelta(days=1))
