"""Every fleet prices its sizes the same way (the contract, over the simulated and the Azure ML fleet)."""

from __future__ import annotations

import pytest

from compute.port import NotFound
from tests.fleet_harness import FleetHarness


async def test_every_fleet_prices_its_sizes_per_hour_and_knows_what_it_does_not_know(
    harness: FleetHarness,
) -> None:
    prices = await harness.fleet.hourly_prices(harness.alias)
    assert prices.currency == "USD" and prices.region
    for size in ("Standard_DS3_v2", "Standard_NC6s_v3"):
        price = prices.per_hour(size)
        assert price is not None and price.currency == "USD" and price.amount > 0
    assert prices.per_hour("Standard_Nothing_Like_It") is None
    again = await harness.fleet.hourly_prices(harness.alias)
    assert again.hourly == prices.hourly and again.simulated == prices.simulated
    with pytest.raises(NotFound):
        await harness.fleet.hourly_prices("nowhere")
