"""Azure's estimated prices in the database: one price list per region and each workspace's region,
so that a restart does not fetch them again (compute.prices.PriceCache)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from domain.money import PriceList
from storage.models import PriceListRow, WorkspaceRegionRow


class PriceRepository:
    """compute.prices.PriceCache in the database: a restart does not fetch prices again."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def load_prices(self, region: str) -> PriceList | None:
        with self._sessions() as session:
            row = session.get(PriceListRow, region.lower())
            if row is None:
                return None
            hourly = {size: (Decimal(p) if p is not None else None) for size, p in row.prices.items()}
            return PriceList(row.region, row.currency, hourly, row.fetched_at, row.simulated)

    def save_prices(self, prices: PriceList) -> None:
        stored = {size: (str(p) if p is not None else None) for size, p in prices.hourly.items()}
        with self._sessions.begin() as session:
            row = session.get(PriceListRow, prices.region.lower())
            if row is None:
                row = PriceListRow(region=prices.region.lower())
                session.add(row)
            row.currency, row.fetched_at, row.simulated, row.prices = (
                prices.currency,
                prices.fetched_at,
                prices.simulated,
                stored,
            )

    def region_of(self, workspace_id: str) -> str | None:
        with self._sessions() as session:
            row = session.get(WorkspaceRegionRow, workspace_id.lower())
            return row.region if row else None

    def remember_region(self, workspace_id: str, region: str, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.merge(WorkspaceRegionRow(workspace_id=workspace_id.lower(), region=region, seen_at=now))
