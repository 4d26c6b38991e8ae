"""The end of an instance's life, decided purely: one table of (instance, end date, keep-ons, policy, now)
and what the daily pass does, with why; the chat grammar of end dates; the `lifecycle:` configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.settings import ConfigError, load_settings
from domain import grammar as g
from domain.lifecycle import (
    DeleteMode,
    EndDate,
    LifeAction,
    LifecyclePolicy,
    clamp_keep,
    ends_at,
    life_text,
    plan_lifecycle,
)
from domain.model import (
    CurfewPolicy,
    Instance,
    InstanceKey,
    InstanceState,
    KeepOn,
    KeepOnState,
    LastOperation,
    MorningPolicy,
    WorkspacePolicy,
)

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = WorkspacePolicy(BERLIN, CurfewPolicy(time(0, 0)), MorningPolicy(time(8, 0)))
LIFE = LifecyclePolicy(remind_days=(7, 1), grace_days=14, delete=DeleteMode.ASK, stale_after_days=30)
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thu 3 Dec, 10:00 in Berlin: the daily pass
TODAY = date(2026, 12, 3)
RUNNING, STOPPED = InstanceState.RUNNING, InstanceState.STOPPED


def instance(
    state: InstanceState = RUNNING, op: LastOperation | None = None, name: str = "gpu-ci"
) -> Instance:
    started = NOW - timedelta(hours=3) if state.is_running else None
    return Instance(
        "team-a", name, "Standard_NC6s_v3", state, "dana", last_started_at=started, last_operation=op
    )


def keep_until(until: datetime) -> KeepOn:
    return KeepOn(
        1, "team-a", "gpu-ci", "dana", NOW - timedelta(hours=1), until, "", "Dana", KeepOnState.ACTIVE
    )


STOP_41_DAYS_AGO = LastOperation("Stop", NOW - timedelta(days=41), "Succeeded", "User")
STOP_10_DAYS_AGO = LastOperation("Stop", NOW - timedelta(days=10), "Succeeded", "IdleShutdown")
CREATED = LastOperation("Create", NOW - timedelta(days=2), "Succeeded", "User")

# (case, instance, end date, keep-ons, lifecycle policy, now) -> (action, reason), None: nothing to do
TABLE = [
    ("7 days before: the first reminder", instance(), date(2026, 12, 10), [], LIFE, NOW,
     (LifeAction.REMIND, "ends in 7 days, on Thu 10 Dec")),
    ("1 day before: the last reminder", instance(), date(2026, 12, 4), [], LIFE, NOW,
     (LifeAction.REMIND, "ends in 1 day, on Fri 4 Dec")),
    ("3 days before, set late: the 7-day reminder still goes", instance(), date(2026, 12, 6), [], LIFE, NOW,
     (LifeAction.REMIND, "ends in 3 days, on Sun 6 Dec")),
    ("8 days before: nothing yet", instance(), date(2026, 12, 11), [], LIFE, NOW, None),
    ("ends today: tonight's curfew stops it", instance(), TODAY, [], LIFE, NOW,
     (LifeAction.END, "ends at tonight's curfew (Thu 3 Dec)")),
    ("ends today during a keep-on: the keep-on no longer holds", instance(), TODAY,
     [keep_until(NOW + timedelta(days=2))], LIFE, NOW,
     (LifeAction.END, "ends at tonight's curfew (Thu 3 Dec); its keep-on to Sat 5 Dec no longer holds")),
    ("ended yesterday and still running: stopped", instance(), date(2026, 12, 2), [], LIFE, NOW,
     (LifeAction.STOP, "ended on Wed 2 Dec; still Running")),
    ("ended, stopped, within the grace: listed", instance(STOPPED, STOP_10_DAYS_AGO), date(2026, 11, 25), [],
     LIFE, NOW, (LifeAction.LISTED, "ended on Wed 25 Nov; stopped, in its grace until Wed 9 Dec")),
    ("grace over, delete: ask: the admins are asked", instance(STOPPED, STOP_10_DAYS_AGO), date(2026, 11, 19),
     [], LIFE, NOW, (LifeAction.PROPOSE_DELETE, "ended on Thu 19 Nov; its 14 days of grace are over")),
    ("grace over, delete: auto: deleted", instance(STOPPED, STOP_10_DAYS_AGO), date(2026, 11, 19), [],
     LifecyclePolicy(delete=DeleteMode.AUTO), NOW,
     (LifeAction.DELETE, "ended on Thu 19 Nov; its 14 days of grace are over")),
    ("a day before the grace ends, delete: auto: the last notice", instance(STOPPED, STOP_10_DAYS_AGO),
     date(2026, 11, 20), [], LifecyclePolicy(delete=DeleteMode.AUTO), NOW,
     (LifeAction.DELETE_NOTICE, "ended on Fri 20 Nov; deleted tomorrow, Fri 4 Dec")),
    ("grace over, delete: never: only listed", instance(STOPPED, STOP_10_DAYS_AGO), date(2026, 11, 19), [],
     LifecyclePolicy(delete=DeleteMode.NEVER), NOW,
     (LifeAction.LISTED, "ended on Thu 19 Nov; its 14 days of grace are over; delete is never")),
    ("no end date, running: nothing", instance(), None, [], LIFE, NOW, None),
    ("no end date, stopped 41 days by Azure's last operation: stale", instance(STOPPED, STOP_41_DAYS_AGO), None,
     [], LIFE, NOW, (LifeAction.STALE, "stopped 41 days; no end date")),
    ("no end date, stopped 10 days: not stale yet", instance(STOPPED, STOP_10_DAYS_AGO), None, [], LIFE, NOW,
     None),
    ("never started since it was created: stale", instance(STOPPED, CREATED), None, [], LIFE, NOW,
     (LifeAction.STALE, "never started since it was created; no end date")),
    ("an end date far ahead and stale: stale, with its end", instance(STOPPED, STOP_41_DAYS_AGO),
     date(2027, 3, 1), [], LIFE, NOW, (LifeAction.STALE, "stopped 41 days; ends Mon 1 Mar")),
    # DST: Sun 25 Oct 2026 Berlin goes from UTC+2 to UTC+1; the 7-day reminder is 7 calendar days
    ("DST week: 7 local days before, across the change", instance(), date(2026, 10, 29), [], LIFE,
     datetime(2026, 10, 22, 8, 0, tzinfo=UTC), (LifeAction.REMIND, "ends in 7 days, on Thu 29 Oct")),
    ("DST week: the end day's pass after the change", instance(), date(2026, 10, 25), [], LIFE,
     datetime(2026, 10, 25, 9, 0, tzinfo=UTC), (LifeAction.END, "ends at tonight's curfew (Sun 25 Oct)")),
    ("DST week: past the end's curfew (00:00 local, 23:00 UTC)", instance(), date(2026, 10, 25), [], LIFE,
     datetime(2026, 10, 25, 23, 0, tzinfo=UTC), (LifeAction.STOP, "ended on Sun 25 Oct; still Running")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "inst", "end", "keeps", "life", "now", "expected"), TABLE, ids=[t[0] for t in TABLE]
)
def test_the_daily_pass_decides(
    case: str,
    inst: Instance,
    end: date | None,
    keeps: list[KeepOn],
    life: LifecyclePolicy,
    now: datetime,
    expected: tuple[LifeAction, str] | None,
) -> None:
    ends = {InstanceKey("team-a", "gpu-ci"): EndDate("team-a", "gpu-ci", end)} if end else {}
    decisions = plan_lifecycle([inst], ends, keeps, {"team-a": POLICY}, life, now)
    assert [(d.action, d.reason) for d in decisions] == ([expected] if expected else [])


def test_an_admins_keep_stops_the_deletion_proposals() -> None:
    ended = {InstanceKey("team-a", "gpu-ci"): EndDate("team-a", "gpu-ci", date(2026, 11, 1), kept=True)}
    [d] = plan_lifecycle([instance(STOPPED, STOP_41_DAYS_AGO)], ended, [], {"team-a": POLICY}, LIFE, NOW)
    assert (d.action, d.reason) == (LifeAction.LISTED, "ended on Sun 1 Nov; an admin chose to keep it")


def test_the_end_is_that_days_curfew_and_keep_ons_are_cut_there() -> None:
    end = ends_at(POLICY, date(2026, 12, 4))
    assert end == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)  # Sat 5 Dec 00:00 Berlin: the curfew after Friday
    cut = clamp_keep(keep_until(NOW + timedelta(days=5)), end)
    assert cut.until == end and clamp_keep(keep_until(end - timedelta(hours=1)), end).until < end
    assert life_text(POLICY, LIFE, date(2026, 12, 18), NOW) == "ends Fri 18 Dec"
    assert life_text(POLICY, LIFE, None, NOW) == "no end date"
    assert life_text(POLICY, LIFE, date(2026, 11, 3), NOW) == "ended 3 Nov, deleted after 17 Nov"


NOW_LOCAL = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
GRAMMAR = [
    ("end gpu-ci on 2026-12-18", g.SetEndDate(g.Target("gpu-ci"), date(2026, 12, 18))),
    ("end gpu-ci@team-a on Dec 18", g.SetEndDate(g.Target("gpu-ci", "team-a"), date(2026, 12, 18))),
    ("gpu-ci ends Friday", g.SetEndDate(g.Target("gpu-ci"), date(2026, 12, 4))),
    ("gpu-ci ends on 18.12.2026", g.SetEndDate(g.Target("gpu-ci"), date(2026, 12, 18))),
    ("extend gpu-ci until Jan 15", g.SetEndDate(g.Target("gpu-ci"), date(2027, 1, 15), extend=True)),
    ("please retire gpu-ci", g.Retire(g.Target("gpu-ci"))),
    ("retire gpu-ci now", g.Retire(g.Target("gpu-ci"))),
    ("end gpu-ci on 2026-11-01", g.ParseError("Sun 1 Nov 2026 is in the past.", hint="Name a time from now on.")),
    ("end gpu-ci on 4/5", g.ParseError("“4/5” could be 2027-04-05 or 2027-05-04.", hint="Write it as 2027-04-05.")),
    ("end keep on gpu-ci", g.Release(g.Target("gpu-ci"))),  # still the release of a keep-on
    ("keep gpu-ci until friday", g.Keep(g.Target("gpu-ci"), g.UntilDay(date(2026, 12, 4)))),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), GRAMMAR, ids=[t[0] for t in GRAMMAR])
def test_the_end_date_grammar(text: str, expected: object) -> None:
    assert g.parse_command(text, NOW_LOCAL, BERLIN) == expected


def test_retire_without_a_name_asks_which() -> None:
    said = g.parse_command("retire", NOW_LOCAL, BERLIN)
    assert isinstance(said, g.ParseError) and said.message == "Which instance should I retire?"


def test_the_lifecycle_configuration(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        'lifecycle: {at: "09:30", remind_days: [1, 7, 3], grace_days: 10, delete: auto, '
        "stale_after_days: 45, max_lifetime_days: 90, require_end_date: false}\n"
    )
    s = load_settings(good, env={})
    assert s.lifecycle.at == time(9, 30)
    assert s.lifecycle.policy() == LifecyclePolicy((7, 3, 1), 10, DeleteMode.AUTO, 45, 90, False)
    assert load_settings(None, env={}).lifecycle.policy() == LifecyclePolicy()
    bad = tmp_path / "bad.yaml"
    bad.write_text("lifecycle: {delete: sometimes, grace_days: -1, remind: [7]}\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(bad, env={})
    problems = "\n".join(refused.value.problems)
    assert "lifecycle.delete: Input should be 'ask', 'auto' or 'never'" in problems
    assert "lifecycle.grace_days: Input should be greater than or equal to 0" in problems
    assert "lifecycle.remind: unknown key" in problems


def test_stale_by_curfews_own_audit_when_azure_gives_no_last_operation() -> None:
    stopped = instance(STOPPED)  # no lastOperation from Azure
    key = InstanceKey("team-a", "gpu-ci")
    assert plan_lifecycle([stopped], {}, [], {"team-a": POLICY}, LIFE, NOW) == []
    stops = {key: NOW - timedelta(days=35)}  # the curfew's stop, from the audit trail
    [d] = plan_lifecycle([stopped], {}, [], {"team-a": POLICY}, LIFE, NOW, stops)
    assert (d.action, d.reason) == (LifeAction.STALE, "stopped 35 days; no end date")
