"""What the curfew saved and what keep-ons cost over a period: the report behind chat, CLI and digest.

Pure: ledger entries (domain.money's rules), the instances' observed running spans, a period and the
reader's zone go in; one `MoneyReport` comes out. A span reaching into the period counts only the
part inside it, so a week's report of an instance stopped three weeks ago counts seven days. Days
are the reader's local days; a curfew stop belongs to the night it ends (its local date 12 hours
before the stop, so 23:30 Monday and 00:05 Tuesday are both "the night of Monday").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.money import Money, Span, cost, total
from domain.schedule import local_instant

TOP = 5


class EntryKind(StrEnum):
    SAVED = "saved"
    KEPT = "kept"


class StopTrigger(StrEnum):
    """Who stopped an instance whose saving the ledger records."""

    CURFEW = "curfew"
    IDLE_SHUTDOWN = "idle_shutdown"
    """Azure ML's idle shutdown (credited to Curfew when its policy is enforced)."""
    SCHEDULE = "schedule"
    """The instance's own Azure ML schedule."""
    PERSON = "person"

    @property
    def label(self) -> str:
        return {
            StopTrigger.CURFEW: "the curfew",
            StopTrigger.IDLE_SHUTDOWN: "idle shutdown",
            StopTrigger.SCHEDULE: "own schedules",
            StopTrigger.PERSON: "people",
        }[self]


@dataclass(frozen=True, slots=True)
class Priced:
    """One instance's interval with its hourly price: a ledger entry, or a span it ran."""

    workspace: str
    instance: str
    size: str
    owner_object_id: str | None
    span: Span
    per_hour: Money | None
    simulated: bool = False
    kind: EntryKind = EntryKind.SAVED
    """For ledger entries: saved by a curfew stop, or spent on a keep-on."""
    trigger: StopTrigger = StopTrigger.CURFEW
    """For savings: who stopped it."""
    credited: bool = True
    """For savings: counted as Curfew's (the curfew's and the enforced idle shutdown's)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.workspace, self.instance)


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime
    zone: ZoneInfo
    label: str
    """ "the last 7 days", "since Tue 1 Dec"."""

    def days(self) -> list[date]:
        first = self.since.astimezone(self.zone).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(self.zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        start = max(self.since, local_instant(self.zone, day, time(0)))
        end = min(self.until, local_instant(self.zone, day + timedelta(days=1), time(0)))
        return start, end


@dataclass(frozen=True, slots=True)
class InstanceMoney:
    workspace: str
    instance: str
    owner_object_id: str | None
    size: str
    saved: dict[str, Decimal]
    saved_hours: Decimal
    kept: dict[str, Decimal]
    kept_hours: Decimal
    ran: dict[str, Decimal]
    ran_hours: Decimal
    unpriced: bool
    """Some hours of it have no known price (not counted in the amounts)."""


@dataclass(frozen=True, slots=True)
class MoneyReport:
    period: Period
    saved: dict[str, Decimal]
    saved_hours: Decimal
    kept: dict[str, Decimal]
    kept_hours: Decimal
    saved_by_day: list[tuple[date, dict[str, Decimal]]]
    cost_by_workspace: list[tuple[str, dict[str, Decimal]]]
    stops_by_night: list[tuple[date, int]]
    instances: list[InstanceMoney]
    """Every instance with something in the period, the most expensive (ran) first."""
    simulated: bool
    unpriced_hours: Decimal = Decimal(0)
    currency: str = "USD"
    most_expensive: list[InstanceMoney] = field(default_factory=list)
    saved_by_trigger: list[tuple[StopTrigger, bool, dict[str, Decimal]]] = field(default_factory=list)
    """(who stopped, counted as Curfew's, amounts) for each stopper with savings in the period."""


def build_report(period: Period, entries: Sequence[Priced], ran: Sequence[Priced]) -> MoneyReport:
    """The report of `period` from ledger `entries` (saved and kept) and running spans `ran`."""
    inside = _clip(entries, period)
    running = _clip(ran, period)
    stopped = [p for p in inside if p.kind is EntryKind.SAVED]
    saved = [p for p in stopped if p.credited]
    kept = [p for p in inside if p.kind is EntryKind.KEPT]
    instances = _per_instance(inside, running)
    priced = [p.per_hour for p in (*inside, *running) if p.per_hour is not None]
    return MoneyReport(
        period=period,
        saved=_sum(saved),
        saved_hours=sum((p.span.hours for p in saved), Decimal(0)),
        kept=_sum(kept),
        kept_hours=sum((p.span.hours for p in kept), Decimal(0)),
        saved_by_day=[(day, _sum(_clip(saved, _day(period, day)))) for day in period.days()],
        cost_by_workspace=_by_workspace(running),
        stops_by_night=_stops_by_night(entries, period),
        instances=instances,
        simulated=any(p.simulated for p in (*inside, *running)),
        unpriced_hours=sum((p.span.hours for p in (*inside, *running) if p.per_hour is None), Decimal(0)),
        currency=priced[0].currency if priced else "USD",
        most_expensive=[i for i in instances if i.ran][:TOP],
        saved_by_trigger=_by_trigger(stopped),
    )


def _by_trigger(stopped: Sequence[Priced]) -> list[tuple[StopTrigger, bool, dict[str, Decimal]]]:
    groups = sorted(
        {(p.trigger, p.credited) for p in stopped}, key=lambda g: (not g[1], list(StopTrigger).index(g[0]))
    )
    return [(t, c, _sum([p for p in stopped if (p.trigger, p.credited) == (t, c)])) for t, c in groups]


def _day(period: Period, day: date) -> Period:
    since, until = period.day_bounds(day)
    return Period(since, until, period.zone, day.isoformat())


def _clip(items: Sequence[Priced], period: Period) -> list[Priced]:
    clipped = []
    for p in items:
        part = p.span.within(period.since, period.until)
        if part is not None:
            clipped.append(replace(p, span=part))
    return clipped


def _sum(items: Sequence[Priced]) -> dict[str, Decimal]:
    return total(cost(p.per_hour, p.span.start, p.span.end) for p in items)


def _amount(sums: dict[str, Decimal]) -> Decimal:
    return sum(sums.values(), Decimal(0))


def _by_workspace(running: Sequence[Priced]) -> list[tuple[str, dict[str, Decimal]]]:
    workspaces = sorted({p.workspace for p in running})
    pairs = [(ws, _sum([p for p in running if p.workspace == ws])) for ws in workspaces]
    return sorted(pairs, key=lambda pair: (-_amount(pair[1]), pair[0]))


def _stops_by_night(entries: Sequence[Priced], period: Period) -> list[tuple[date, int]]:
    nights: dict[date, int] = {}
    for p in entries:
        curfew = p.kind is EntryKind.SAVED and p.trigger is StopTrigger.CURFEW
        if curfew and period.since <= p.span.start < period.until:
            night = (p.span.start - timedelta(hours=12)).astimezone(period.zone).date()
            nights[night] = nights.get(night, 0) + 1
    return sorted(nights.items())


def _per_instance(inside: Sequence[Priced], running: Sequence[Priced]) -> list[InstanceMoney]:
    keys = sorted({p.key for p in (*inside, *running)})
    found = []
    for key in keys:
        mine = [p for p in inside if p.key == key]
        ran = [p for p in running if p.key == key]
        saved = [p for p in mine if p.kind is EntryKind.SAVED]
        kept = [p for p in mine if p.kind is EntryKind.KEPT]
        any_item = (mine or ran)[0]
        found.append(
            InstanceMoney(
                workspace=key[0],
                instance=key[1],
                owner_object_id=any_item.owner_object_id,
                size=any_item.size,
                saved=_sum(saved),
                saved_hours=sum((p.span.hours for p in saved), Decimal(0)),
                kept=_sum(kept),
                kept_hours=sum((p.span.hours for p in kept), Decimal(0)),
                ran=_sum(ran),
                ran_hours=sum((p.span.hours for p in ran), Decimal(0)),
                unpriced=any(p.per_hour is None for p in (*mine, *ran)),
            )
        )
    return sorted(found, key=lambda i: (-_amount(i.ran), -_amount(i.saved), i.workspace, i.instance))


@dataclass(frozen=True, slots=True)
class MoneyView:
    title: str
    report: MoneyReport
    zone: ZoneInfo
    keep_ons: Sequence[str] = ()
    """Keep-ons in force, one line each."""
    unreachable: Sequence[str] = ()
    """Owners the warning could not reach, one line each (digest)."""
    failed_stops: Sequence[str] = ()
    """Stops that failed, one line each (digest)."""
    by_instance: bool = False
    """List each instance's saving (an owner's own report)."""
    digest: bool = False
    names: Mapping[str, str] = field(default_factory=dict)
    """AAD object id (lower case) -> the person's display name, for everyone the view names."""
    sprawl: Sequence[str] = ()
    """Stale instances and, per owner, instances without an end date, one line each (digest)."""
