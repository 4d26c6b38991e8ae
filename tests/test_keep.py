"""Keep-on planning: absolute ends, DECISIONS rule 1, the limits, and the curfew that follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.grammar import ForDuration, Tonight, UntilDay, UntilInstant
from domain.keep import KeepLimits, KeepPlan, KeepRefusal, describe_plan, plan_keep
from domain.model import CurfewPolicy, MorningPolicy, WorkspacePolicy

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 29, 15, 0, tzinfo=BERLIN)  # Sunday
LIMITS = KeepLimits(max_days=14, approval_over_days=3)


def policy(
    stop_at: time = time(0, 0), zone: ZoneInfo = BERLIN, days: frozenset[int] = frozenset(range(7))
) -> WorkspacePolicy:
    return WorkspacePolicy(zone, CurfewPolicy(stop_at=stop_at, days=days), MorningPolicy(at=time(8, 0)))


def b(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


CASES = [
    # id, end, policy, reader zone, until, next curfew, needs approval
    (
        "friday-curfew-0000",
        UntilDay(date(2026, 12, 4)),
        policy(),
        BERLIN,
        b("2026-12-05 00:00"),
        b("2026-12-05 00:00"),
        True,
    ),
    (
        "friday-curfew-2330",
        UntilDay(date(2026, 12, 4)),
        policy(time(23, 30)),
        BERLIN,
        b("2026-12-04 23:30"),
        b("2026-12-04 23:30"),
        True,
    ),
    (
        "tuesday-no-approval",
        UntilDay(date(2026, 12, 1)),
        policy(),
        BERLIN,
        b("2026-12-02 00:00"),
        b("2026-12-02 00:00"),
        False,
    ),
    (
        "explicit-time",
        UntilInstant(b("2026-12-01 18:00")),
        policy(),
        BERLIN,
        b("2026-12-01 18:00"),
        b("2026-12-02 00:00"),
        False,
    ),
    (
        "two-hours",
        ForDuration(timedelta(hours=2)),
        policy(),
        BERLIN,
        b("2026-11-29 17:00"),
        b("2026-11-30 00:00"),
        False,
    ),
    (
        "tonight-skips-one-curfew",
        Tonight(),
        policy(),
        BERLIN,
        b("2026-12-01 00:00"),
        b("2026-12-01 00:00"),
        False,
    ),
    (
        "weekday-curfews-only",
        UntilDay(date(2026, 12, 4)),
        policy(days=frozenset(range(5))),
        BERLIN,
        b("2026-12-05 00:00"),
        b("2026-12-07 00:00"),
        True,
    ),
    (
        "reader-in-la-workspace-in-berlin",
        UntilDay(date(2026, 12, 1)),
        policy(),
        LA,
        b("2026-12-02 00:00"),  # noon in Los Angeles is 21:00 in Berlin
        b("2026-12-02 00:00"),
        False,
    ),
]


@pytest.mark.parametrize(
    ("end", "pol", "zone", "until", "curfew", "approval"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plans(
    end: object, pol: WorkspacePolicy, zone: ZoneInfo, until: datetime, curfew: datetime, approval: bool
) -> None:
    plan = plan_keep(end, NOW, pol, zone, LIMITS)  # type: ignore[arg-type]
    assert isinstance(plan, KeepPlan), plan
    assert (plan.until, plan.next_curfew, plan.needs_approval) == (until, curfew, approval)
    if approval:
        assert plan.in_force_until == NOW + timedelta(days=3)


@pytest.mark.parametrize(
    ("end", "fragment"),
    [
        (UntilInstant(b("2026-11-29 14:00")), "Sun 29 Nov 14:00 Europe/Berlin is in the past"),
        (ForDuration(timedelta(days=15)), "at most 14 days"),
        (
            UntilDay(date(2026, 12, 20)),
            "at most 14 days (until Sun 13 Dec 15:00 Europe/Berlin at the latest)",
        ),
    ],
)
def test_refusals(end: object, fragment: str) -> None:
    refusal = plan_keep(end, NOW, policy(), BERLIN, LIMITS)  # type: ignore[arg-type]
    assert isinstance(refusal, KeepRefusal) and fragment in refusal.message


def test_description_names_the_end_and_the_following_curfew() -> None:
    plan = plan_keep(UntilInstant(b("2026-12-01 18:00")), NOW, policy(), BERLIN, LIMITS)
    assert isinstance(plan, KeepPlan)
    assert describe_plan(plan, BERLIN) == (
        "until Tue 1 Dec 18:00 Europe/Berlin; the curfew stops it at Wed 2 Dec 00:00 Europe/Berlin"
    )
    friday = plan_keep(UntilDay(date(2026, 12, 4)), NOW, policy(), BERLIN, LIMITS)
    assert isinstance(friday, KeepPlan)
    assert describe_plan(friday, BERLIN) == "until Sat 5 Dec 00:00 Europe/Berlin; the curfew stops it then"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_keep(Tonight(), datetime(2026, 1, 1), policy(), BERLIN, LIMITS)
    assert NOW.astimezone(UTC).tzinfo is UTC
