"""Hourly prices of VM sizes: reading Azure's estimates, the per-region cache, the simulated list.

Azure ML publishes estimated prices per size and region (`ml_client.compute.list_sizes(location=)`,
ARM `GET .../locations/{region}/vmSizes`): each size carries `estimatedVMPrices` with a billing
currency, a unit of measure and one retail price per OS type and VM tier. Curfew takes the Linux,
standard-tier (not low-priority, not spot) price per hour; a size with no such price, or a unit other
than one hour, is unknown. In azure-ai-ml 1.35.2 the `VmSize` entity keeps the REST field names
(`vars(size)["estimatedVMPrices"]`), although its docstring promises `estimated_vm_prices`: both are
read.

Prices are cached per region for a day (`PriceCache`, stored in the database by
storage/money_repo.py, so a restart does not fetch again); `PriceBook` is what cards and the
ledger ask, and it never raises: a price it cannot get is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from compute.port import FleetError
from domain.model import Instance, InstanceKey
from domain.money import Money, PriceList

if TYPE_CHECKING:
    from compute.port import Fleet

log = logging.getLogger(__name__)

SIMULATED_PRICES: Mapping[str, Decimal | None] = {
    "Standard_DS11_v2": Decimal("0.185"),
    "Standard_DS3_v2": Decimal("0.293"),
    "Standard_DS12_v2": Decimal("0.371"),
    "Standard_D4s_v3": Decimal("0.23"),
    "Standard_DS4_v2": Decimal("0.585"),
    "Standard_E4ds_v4": Decimal("0.333"),
    "Standard_NC4as_T4_v3": Decimal("0.526"),
    "Standard_NC6s_v3": Decimal("3.06"),
    "Standard_NC12s_v3": Decimal("6.12"),
    "Standard_NC24ads_A100_v4": Decimal("3.673"),
}
"""The demo fleet's list: Linux pay-as-you-go prices in USD, of the order Azure lists; not a quote."""


def simulated_prices(now: datetime) -> PriceList:
    return PriceList("simulated", "USD", SIMULATED_PRICES, now, simulated=True)


def price_list(region: str, sizes: Iterable[Any], now: datetime) -> PriceList:
    """A PriceList from azure-ai-ml `VmSize` entities (or plain dicts of the REST JSON)."""
    found: dict[str, tuple[str, Decimal] | None] = {}
    for size in sizes:
        fields = size if isinstance(size, Mapping) else vars(size)
        name = fields.get("name")
        if isinstance(name, str) and name:
            found[name] = linux_standard_price(
                fields.get("estimatedVMPrices") or fields.get("estimated_vm_prices")
            )
    currencies = [c for c, _ in (v for v in found.values() if v is not None)]
    currency = max(set(currencies), key=currencies.count) if currencies else "USD"
    hourly = {n: (v[1] if v is not None and v[0] == currency else None) for n, v in found.items()}
    return PriceList(region, currency, hourly, now)


def linux_standard_price(prices: Any) -> tuple[str, Decimal] | None:
    """(currency, per hour) of the Linux standard-tier retail price; None when there is none."""
    if not isinstance(prices, Mapping):
        return None
    currency = str(_field(prices, "billingCurrency", "billing_currency") or "").upper()
    unit = str(_field(prices, "unitOfMeasure", "unit_of_measure") or "")
    if len(currency) != 3 or unit.lower() != "onehour":
        return None
    candidates = []
    for value in _field(prices, "values", "values_property") or []:
        if not isinstance(value, Mapping):
            continue
        os_type = str(_field(value, "osType", "os_type") or "").lower()
        tier = str(_field(value, "vmTier", "vm_tier") or "").lower()
        amount = _decimal(_field(value, "retailPrice", "retail_price"))
        if os_type == "linux" and tier == "standard" and amount is not None:
            candidates.append(amount)
    return (currency, min(candidates)) if candidates else None


def _field(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def _decimal(value: Any) -> Decimal | None:
    """JSON numbers arrive as float; their shortest repr is the decimal ARM sent."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


class PriceCache(Protocol):
    """Where price lists (per region) and workspace regions are kept between fetches. Synchronous."""

    def load_prices(self, region: str) -> PriceList | None: ...

    def save_prices(self, prices: PriceList) -> None: ...

    def region_of(self, workspace_id: str) -> str | None: ...

    def remember_region(self, workspace_id: str, region: str, now: datetime) -> None: ...


class MemoryPriceCache:
    """A PriceCache for one process (tests, tools); the service stores it in the database."""

    def __init__(self) -> None:
        self.prices: dict[str, PriceList] = {}
        self.regions: dict[str, str] = {}

    def load_prices(self, region: str) -> PriceList | None:
        return self.prices.get(region.lower())

    def save_prices(self, prices: PriceList) -> None:
        self.prices[prices.region.lower()] = prices

    def region_of(self, workspace_id: str) -> str | None:
        return self.regions.get(workspace_id.lower())

    def remember_region(self, workspace_id: str, region: str, now: datetime) -> None:
        self.regions[workspace_id.lower()] = region


class PriceBook:
    """Prices for cards and the ledger, through the fleet; a price it cannot get is unknown (None)."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    async def price_list(self, workspace: str) -> PriceList | None:
        try:
            return await self._fleet.hourly_prices(workspace)
        except FleetError as error:
            log.warning("no prices for workspace %s: %s", workspace, error)
            return None

    async def per_hour(self, workspace: str, size: str) -> tuple[Money | None, bool]:
        """(price per hour or None, simulated) of `size` in `workspace`'s region."""
        prices = await self.price_list(workspace)
        return (prices.per_hour(size), prices.simulated) if prices else (None, False)

    async def for_instances(
        self, instances: Iterable[Instance]
    ) -> dict[InstanceKey, tuple[Money | None, bool]]:
        """Each instance's price per hour (None: unknown) and whether it is simulated."""
        items = list(instances)
        lists = {ws: await self.price_list(ws) for ws in sorted({i.workspace for i in items})}
        found: dict[InstanceKey, tuple[Money | None, bool]] = {}
        for i in items:
            prices = lists[i.workspace]
            found[i.key] = (prices.per_hour(i.size), prices.simulated) if prices else (None, False)
        return found
