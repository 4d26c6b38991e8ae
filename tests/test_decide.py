"""Table-driven tests of domain.decide: one readable row per rule, with the exact reason people read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.decide import Action, Decision, RunKind, decide, group_warnings, tonight
from domain.model import (
    CurfewPolicy,
    Instance,
    InstanceState,
    Job,
    KeepOn,
    KeepOnState,
    MorningPolicy,
    MorningStart,
    WorkspacePolicy,
)

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
S = InstanceState


def policy(
    zone: ZoneInfo = BERLIN,
    stop_at: time = time(0, 0),
    days: Iterable[int] = range(7),
    skip: Iterable[date] = (),
    catch_up: int = 120,
    skip_jobs: bool = True,
    morning_skip: Iterable[date] = (),
) -> WorkspacePolicy:
    curfew = CurfewPolicy(
        stop_at=stop_at,
        days=frozenset(days),
        skip_dates=frozenset(skip),
        catch_up_minutes=catch_up,
        skip_when_job_running=skip_jobs,
    )
    return WorkspacePolicy(zone, curfew, MorningPolicy(at=time(8, 0), skip_dates=frozenset(morning_skip)))


def berlin(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN, fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def instance(
    state: InstanceState = S.RUNNING,
    name: str = "gpu-ci",
    workspace: str = "ml",
    owner: str | None = "alice-oid",
    started: datetime | None = None,
) -> Instance:
    return Instance(workspace, name, "Standard_NC6", state, owner_object_id=owner, last_started_at=started)


def keep(
    until: str,
    starts: str = "2026-12-03 09:00",
    state: KeepOnState = KeepOnState.ACTIVE,
    in_force_until: str | None = None,
    name: str = "gpu-ci",
    keep_id: int = 1,
) -> KeepOn:
    return KeepOn(
        id=keep_id,
        workspace="ml",
        instance=name,
        owner_object_id="alice-oid",
        starts_at=berlin(starts),
        until=berlin(until),
        reason="demo on Friday",
        created_by="Alice",
        state=state,
        in_force_until=berlin(in_force_until) if in_force_until else None,
    )


def job(
    name: str = "train-42", compute: str = "gpu-ci", workspace: str = "ml", status: str = "Running"
) -> Job:
    return Job(workspace, name, compute, status)


CURFEW_NOW = berlin("2026-12-04 00:05")  # five minutes after the Fri 4 Dec 00:00 curfew
CURFEW_AT = utc("2026-12-03 23:00")
UNSET = object()


@dataclass(frozen=True)
class Case:
    now: datetime
    action: Action
    reason: str
    instance: Instance = field(default_factory=instance)
    keep_ons: tuple[KeepOn, ...] = ()
    jobs: tuple[Job, ...] = ()
    policy: WorkspacePolicy = field(default_factory=policy)
    forced: bool = False
    instant: object = UNSET


def case(id: str, *args: object, **kwargs: object) -> object:
    return pytest.param(Case(*args, **kwargs), id=id)  # type: ignore[arg-type]


STOP, LEAVE, WARN, START = Action.STOP, Action.LEAVE, Action.WARN, Action.START
KEPT_0001 = "kept until Fri 4 Dec 00:01 Europe/Berlin by Alice: demo on Friday"
NOT_DUE = "no curfew due now in Europe/Berlin"
AT_0000 = "curfew at 00:00 Europe/Berlin"
SWEEP_1400 = "manual sweep at 14:00 Europe/Berlin"
IN_TRANSITION = "Curfew leaves instances in transition alone"
NOT_RUNNING = "Curfew only stops running instances"
PENDING = KeepOnState.PENDING_APPROVAL

CURFEW_CASES = [
    case("stop-at-0000", CURFEW_NOW, STOP, AT_0000, instant=CURFEW_AT),
    case(
        "stop-at-2330",
        berlin("2026-12-04 23:31"),
        STOP,
        "curfew at 23:30 Europe/Berlin",
        policy=policy(stop_at=time(23, 30)),
        instant=utc("2026-12-04 22:30"),
    ),
    case("transitional-stopping", CURFEW_NOW, LEAVE, f"is Stopping; {IN_TRANSITION}",
         instance(S.STOPPING)),
    case("transitional-starting", CURFEW_NOW, LEAVE, f"is Starting; {IN_TRANSITION}",
         instance(S.STARTING)),
    case("stopped", CURFEW_NOW, LEAVE, "already stopped", instance(S.STOPPED), instant=CURFEW_AT),
    case("create-failed", CURFEW_NOW, LEAVE, f"is CreateFailed; {NOT_RUNNING}",
         instance(S.CREATE_FAILED)),
    case("unusable", CURFEW_NOW, LEAVE, f"is Unusable; {NOT_RUNNING}", instance(S.UNUSABLE)),
    case("unknown", CURFEW_NOW, LEAVE, f"is Unknown; {NOT_RUNNING}", instance(S.UNKNOWN)),
    case("keep-on-ends-at-curfew", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-04 00:00"),)),
    case("keep-on-ends-minute-after", CURFEW_NOW, LEAVE, KEPT_0001, keep_ons=(keep("2026-12-04 00:01"),)),
    case("keep-on-name-ignores-case", CURFEW_NOW, LEAVE, KEPT_0001,
         keep_ons=(keep("2026-12-04 00:01", name="GPU-CI"),)),
    case("keep-on-other-instance", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-04 00:01", name="cpu-dev"),)),
    case("keep-on-starts-after-the-run", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-04 12:00", starts="2026-12-04 00:10"),)),
    case("keep-on-made-after-the-instant-before-the-run", berlin("2026-12-04 00:05"), LEAVE,
         "kept until Fri 4 Dec 12:00 Europe/Berlin by Alice: demo on Friday",
         keep_ons=(keep("2026-12-04 12:00", starts="2026-12-04 00:01"),)),
    case("keep-on-released", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-05 00:00", state=KeepOnState.RELEASED),)),
    case("keep-on-latest-wins", CURFEW_NOW, LEAVE,
         "kept until Sat 5 Dec 00:00 Europe/Berlin by Alice: demo on Friday",
         keep_ons=(keep("2026-12-04 00:01"), keep("2026-12-05 00:00", keep_id=2),
                   keep("2026-12-04 08:00", keep_id=3))),
    case("pending-inside-in-force-part", CURFEW_NOW, LEAVE,
         "kept by Alice: demo on Friday (pending approval, in force until Fri 4 Dec 02:00 Europe/Berlin)",
         keep_ons=(keep("2026-12-11 00:00", state=PENDING, in_force_until="2026-12-04 02:00"),)),
    case("pending-outside-in-force-part", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-11 00:00", state=PENDING, in_force_until="2026-12-03 23:00"),)),
    case("pending-without-in-force-part", CURFEW_NOW, STOP, AT_0000,
         keep_ons=(keep("2026-12-11 00:00", state=PENDING),)),
    case("job-running-by-state", CURFEW_NOW, LEAVE, "a job running (state JobRunning)",
         instance(S.JOB_RUNNING)),
    case("job-running-by-job-list", CURFEW_NOW, LEAVE, "job train-42 running", jobs=(job(),)),
    case("two-jobs", CURFEW_NOW, LEAVE, "jobs train-42, eval-7 running", jobs=(job(), job("eval-7"))),
    case("job-compute-ignores-case", CURFEW_NOW, LEAVE, "job train-42 running",
         jobs=(job(compute="GPU-CI"),)),
    case("job-on-other-compute", CURFEW_NOW, STOP, AT_0000, jobs=(job(compute="cpu-dev"),)),
    case("job-in-other-workspace", CURFEW_NOW, STOP, AT_0000, jobs=(job(workspace="eu"),)),
    case("job-finished", CURFEW_NOW, STOP, AT_0000, jobs=(job(status="Completed"),)),
    case("keep-on-before-job", CURFEW_NOW, LEAVE, KEPT_0001,
         keep_ons=(keep("2026-12-04 00:01"),), jobs=(job(),)),
    case("skip-when-job-running-off", CURFEW_NOW, STOP, f"{AT_0000} despite job train-42 running",
         jobs=(job(),), policy=policy(skip_jobs=False)),
    case("skip-when-job-running-off-state", CURFEW_NOW, STOP,
         "curfew at 00:00 Europe/Berlin despite a job running (state JobRunning)",
         instance(S.JOB_RUNNING), policy=policy(skip_jobs=False)),
    case("started-after-curfew", berlin("2026-12-04 00:45"), LEAVE,
         "started at 00:40 Europe/Berlin, after the 00:00 curfew",
         instance(started=berlin("2026-12-04 00:40"))),
    case("started-at-curfew", CURFEW_NOW, STOP, AT_0000, instance(started=CURFEW_AT)),
    case("started-before-curfew", CURFEW_NOW, STOP, AT_0000,
         instance(started=berlin("2026-12-03 23:59"))),
    case("no-curfew-days", CURFEW_NOW, LEAVE, NOT_DUE, policy=policy(days=()), instant=None),
    case("catch-up-within", berlin("2026-12-04 02:00"), STOP, AT_0000),
    case("catch-up-exceeded", berlin("2026-12-04 02:01"), LEAVE,
         f"{NOT_DUE}: the last, Fri 4 Dec 00:00 Europe/Berlin, is more than 120 minutes ago", instant=None),
    case("before-first-curfew-of-day", berlin("2026-12-03 23:59"), LEAVE,
         f"{NOT_DUE}: the last, Thu 3 Dec 00:00 Europe/Berlin, is more than 120 minutes ago"),
    case("day-off-saturday-mon-fri", berlin("2026-12-05 00:05"), LEAVE,
         f"{NOT_DUE}: the last, Fri 4 Dec 00:00 Europe/Berlin, is more than 120 minutes ago",
         policy=policy(days=range(5))),
    case("friday-is-curfew-day-mon-fri", CURFEW_NOW, STOP, AT_0000, policy=policy(days=range(5))),
    case("skip-date", CURFEW_NOW, LEAVE,
         f"{NOT_DUE}: the last, Thu 3 Dec 00:00 Europe/Berlin, is more than 120 minutes ago",
         policy=policy(skip=[date(2026, 12, 4)])),
    case("berlin-spring-0230-gap", utc("2026-03-29 01:05"), STOP, "curfew at 03:00 Europe/Berlin",
         policy=policy(stop_at=time(2, 30)), instant=utc("2026-03-29 01:00")),
    case("berlin-fall-0230-first", utc("2026-10-25 00:35"), STOP, "curfew at 02:30 Europe/Berlin",
         policy=policy(stop_at=time(2, 30)), instant=utc("2026-10-25 00:30")),
    case("berlin-fall-0230-no-second-curfew", berlin("2026-10-25 02:35", fold=1), LEAVE,
         f"{NOT_DUE}: the last, Sun 25 Oct 02:30 Europe/Berlin, is more than 30 minutes ago",
         policy=policy(stop_at=time(2, 30), catch_up=30)),
    case("berlin-midnight-after-spring", utc("2026-03-29 22:05"), STOP, AT_0000,
         instant=utc("2026-03-29 22:00")),
    case("berlin-midnight-after-fall", utc("2026-10-25 23:05"), STOP, AT_0000,
         instant=utc("2026-10-25 23:00")),
    case("la-spring-day", utc("2026-03-08 08:05"), STOP, "curfew at 00:00 America/Los_Angeles",
         policy=policy(LA), instant=utc("2026-03-08 08:00")),
    case("la-after-spring", utc("2026-03-09 07:05"), STOP, "curfew at 00:00 America/Los_Angeles",
         policy=policy(LA), instant=utc("2026-03-09 07:00")),
    case("la-fall-day", utc("2026-11-01 07:05"), STOP, "curfew at 00:00 America/Los_Angeles",
         policy=policy(LA), instant=utc("2026-11-01 07:00")),
    case("la-after-fall", utc("2026-11-02 08:05"), STOP, "curfew at 00:00 America/Los_Angeles",
         policy=policy(LA), instant=utc("2026-11-02 08:00")),
    case("forced-sweep-midday", berlin("2026-12-04 14:00"), STOP, SWEEP_1400,
         forced=True, instant=berlin("2026-12-04 14:00")),
    case("forced-ignores-started-after", berlin("2026-12-04 14:00"), STOP, SWEEP_1400,  # Azure's clock ahead
         instance(started=berlin("2026-12-04 14:01")), forced=True),
    case("forced-on-day-off", berlin("2026-12-05 14:00"), STOP, SWEEP_1400,
         policy=policy(days=range(5)), forced=True),
    case("forced-keeps-keep-on", berlin("2026-12-04 14:00"), LEAVE,
         "kept until Sat 5 Dec 00:00 Europe/Berlin by Alice: demo on Friday",
         keep_ons=(keep("2026-12-05 00:00"),), forced=True),
    case("forced-keep-on-ended", berlin("2026-12-04 14:00"), STOP, SWEEP_1400,
         keep_ons=(keep("2026-12-04 00:01"),), forced=True),
    case("forced-stopped", berlin("2026-12-04 14:00"), LEAVE, "already stopped", instance(S.STOPPED),
         forced=True),
]  # fmt: skip


def check(case: Case, kind: RunKind, mornings: tuple[MorningStart, ...] = ()) -> Decision:
    decisions = decide(
        kind,
        case.now,
        [case.instance],
        case.keep_ons,
        case.jobs,
        {"ml": case.policy},
        mornings,
        forced=case.forced,
    )
    assert len(decisions) == 1
    decision = decisions[0]
    assert (decision.action, decision.reason) == (case.action, case.reason)
    assert decision.instance is case.instance
    if case.instant is not UNSET:
        assert decision.instant == case.instant
    return decision


@pytest.mark.parametrize("case", CURFEW_CASES)
def test_curfew(case: Case) -> None:
    check(case, RunKind.CURFEW)


def test_curfew_decision_carries_the_keep_on_and_the_jobs() -> None:
    keep_ons = (keep("2026-12-04 00:01"), keep("2026-12-05 00:00", keep_id=2))
    kept = decide(RunKind.CURFEW, CURFEW_NOW, [instance()], keep_ons, [], {"ml": policy()})[0]
    assert kept.keep_on is keep_ons[1]
    assert kept.instant == CURFEW_AT
    jobs = (job(), job("other", compute="cpu-dev"))
    busy = decide(RunKind.CURFEW, CURFEW_NOW, [instance()], [], jobs, {"ml": policy()})[0]
    assert busy.jobs == (jobs[0],)
    assert busy.keep_on is None
    stopped = decide(RunKind.CURFEW, CURFEW_NOW, [instance()], [], jobs, {"ml": policy(skip_jobs=False)})[0]
    assert (stopped.action, stopped.jobs) == (STOP, (jobs[0],))


def test_two_workspaces_in_different_zones_decided_with_one_now() -> None:
    policies = {"eu": policy(BERLIN), "us": policy(LA)}
    fleet = [
        instance(name="a", workspace="us"),
        instance(name="b", workspace="eu"),
        instance(name="c", workspace="nowhere"),
    ]
    berlin_midnight = decide(RunKind.CURFEW, utc("2026-12-03 23:05"), fleet, [], [], policies)
    assert [(d.instance.name, d.action) for d in berlin_midnight] == [("a", LEAVE), ("b", STOP), ("c", LEAVE)]
    assert berlin_midnight[1].reason == "curfew at 00:00 Europe/Berlin"
    assert berlin_midnight[0].reason.startswith("no curfew due now in America/Los_Angeles")
    assert berlin_midnight[2].reason == "workspace nowhere has no policy"
    la_midnight = decide(RunKind.CURFEW, utc("2026-12-04 08:05"), fleet, [], [], policies)
    assert [(d.instance.name, d.action) for d in la_midnight] == [("a", STOP), ("b", LEAVE), ("c", LEAVE)]
    assert la_midnight[0].reason == "curfew at 00:00 America/Los_Angeles"
    assert la_midnight[0].instant == utc("2026-12-04 08:00")


WARN_NOW = berlin("2026-12-04 23:30")  # 30 minutes before the Sat 5 Dec 00:00 curfew
WARN_FOR = utc("2026-12-04 23:00")
WARN_REASON = "stops at 00:00 Europe/Berlin (Sat 5 Dec)"

WARNING_CASES = [
    case("warn", WARN_NOW, WARN, WARN_REASON, instant=WARN_FOR),
    case("warn-sunday", berlin("2026-12-05 23:30"), WARN, "stops at 00:00 Europe/Berlin (Sun 6 Dec)"),
    case("warn-at-curfew-inclusive", berlin("2026-12-05 00:00"), WARN, WARN_REASON, instant=WARN_FOR),
    case("warn-mon-fri-skips-weekend", WARN_NOW, WARN, "stops at 00:00 Europe/Berlin (Mon 7 Dec)",
         policy=policy(days=range(5)), instant=utc("2026-12-06 23:00")),
    case("warn-skip-date", WARN_NOW, WARN, "stops at 00:00 Europe/Berlin (Sun 6 Dec)",
         policy=policy(skip=[date(2026, 12, 5)])),
    case("warn-2330", berlin("2026-12-04 23:00"), WARN, "stops at 23:30 Europe/Berlin (Fri 4 Dec)",
         policy=policy(stop_at=time(23, 30))),
    case("warn-la", utc("2026-11-02 07:30"), WARN, "stops at 00:00 America/Los_Angeles (Mon 2 Nov)",
         policy=policy(LA), instant=utc("2026-11-02 08:00")),
    case("warn-no-started-after-rule", WARN_NOW, WARN, WARN_REASON,
         instance(started=berlin("2026-12-04 23:29"))),
    case("warn-forced-is-the-same", WARN_NOW, WARN, WARN_REASON, forced=True, instant=WARN_FOR),
    case("warn-keep-on-ends-at-curfew", WARN_NOW, WARN, WARN_REASON, keep_ons=(keep("2026-12-05 00:00"),)),
    case("warn-kept", WARN_NOW, LEAVE, "kept until Sat 5 Dec 00:01 Europe/Berlin by Alice: demo on Friday",
         keep_ons=(keep("2026-12-05 00:01"),)),
    case("warn-job-running", WARN_NOW, LEAVE, "job train-42 running", jobs=(job(),)),
    case("warn-job-running-off", WARN_NOW, WARN, f"{WARN_REASON} despite job train-42 running",
         jobs=(job(),), policy=policy(skip_jobs=False)),
    case("warn-stopped", WARN_NOW, LEAVE, "already stopped", instance(S.STOPPED)),
    case("warn-starting", WARN_NOW, LEAVE, f"is Starting; {IN_TRANSITION}",
         instance(S.STARTING)),
    case("warn-no-curfew-days", WARN_NOW, LEAVE, "no curfew scheduled in Europe/Berlin",
         policy=policy(days=())),
]  # fmt: skip


@pytest.mark.parametrize("case", WARNING_CASES)
def test_warning(case: Case) -> None:
    check(case, RunKind.WARNING)


@pytest.mark.parametrize("case", WARNING_CASES)
def test_tonight_is_the_warning_decision(case: Case) -> None:
    expected = decide(
        RunKind.WARNING, case.now, [case.instance], case.keep_ons, case.jobs, {"ml": case.policy}
    )
    assert tonight(case.now, case.instance, case.keep_ons, case.jobs, case.policy) == expected[0]


def test_group_warnings_by_owner() -> None:
    fleet = [
        instance(name="a1", owner="alice"),
        instance(name="b1", owner="bob"),
        instance(name="a2", owner="alice"),  # kept on: LEAVE, but running, so alice hears about it
        instance(S.STOPPED, name="a3", owner="alice"),  # not running: nothing to say
        instance(name="shared", owner=None),
        instance(name="lost", owner="alice", workspace="nowhere"),  # no policy: no curfew applies
    ]
    kept = (keep("2026-12-05 08:00", name="a2"),)
    decisions = decide(RunKind.WARNING, WARN_NOW, fleet, kept, [], {"ml": policy()})
    groups = group_warnings(decisions)
    named = {owner: [(d.instance.name, d.action) for d in group] for owner, group in groups.items()}
    assert named == {
        "alice": [("a1", WARN), ("a2", LEAVE)],
        "bob": [("b1", WARN)],
        None: [("shared", WARN)],
    }
    assert list(groups) == ["alice", "bob", None]
    assert groups["alice"][1].reason == "kept until Sat 5 Dec 08:00 Europe/Berlin by Alice: demo on Friday"


MORNING_NOW = berlin("2026-12-07 08:05")  # Monday
NO_MORNING = "no morning start due now in Europe/Berlin"
MORNING_0800 = "morning start at 08:00 Europe/Berlin"
OPTED_IN = (MorningStart("ml", "gpu-ci", enabled=True),)
STOPPED = instance(S.STOPPED)


@dataclass(frozen=True)
class MorningCase:
    now: datetime
    mornings: tuple[MorningStart, ...]
    action: Action
    reason: str
    instance: Instance = STOPPED
    policy: WorkspacePolicy = field(default_factory=policy)
    forced: bool = False


def morning(id: str, *args: object, **kwargs: object) -> object:
    return pytest.param(MorningCase(*args, **kwargs), id=id)  # type: ignore[arg-type]


MORNING_CASES = [
    morning("opted-in", MORNING_NOW, OPTED_IN, START, MORNING_0800),
    morning("name-ignores-case", MORNING_NOW, (MorningStart("ml", "GPU-CI", True),), START,
            MORNING_0800),
    morning("not-opted-in", MORNING_NOW, (), LEAVE, "morning start is off"),
    morning("other-workspace", MORNING_NOW, (MorningStart("eu", "gpu-ci", True),), LEAVE,
            "morning start is off"),
    morning("disabled", MORNING_NOW, (MorningStart("ml", "gpu-ci", False),), LEAVE, "morning start is off"),
    morning("own-time", berlin("2026-12-07 07:35"), (MorningStart("ml", "gpu-ci", True, time(7, 30)),), START,
            "morning start at 07:30 Europe/Berlin"),
    morning("own-time-not-yet", MORNING_NOW, (MorningStart("ml", "gpu-ci", True, time(9, 0)),), LEAVE,
            NO_MORNING),
    morning("before-policy-time", berlin("2026-12-07 07:55"), OPTED_IN, LEAVE,
            NO_MORNING),
    morning("weekend-off", berlin("2026-12-05 08:05"), OPTED_IN, LEAVE, NO_MORNING),
    morning("skip-date", MORNING_NOW, OPTED_IN, LEAVE, NO_MORNING,
            policy=policy(morning_skip=[date(2026, 12, 7)])),
    morning("catch-up-within", berlin("2026-12-07 10:00"), OPTED_IN, START, MORNING_0800),
    morning("catch-up-exceeded", berlin("2026-12-07 10:01"), OPTED_IN, LEAVE,
            NO_MORNING),
    morning("already-running", MORNING_NOW, OPTED_IN, LEAVE, "already running", instance()),
    morning("job-running-is-running", MORNING_NOW, OPTED_IN, LEAVE, "already running",
            instance(S.JOB_RUNNING)),
    morning("starting", MORNING_NOW, OPTED_IN, LEAVE, "already running", instance(S.STARTING)),
    morning("stopping", MORNING_NOW, OPTED_IN, LEAVE, "is Stopping; Curfew only starts stopped instances",
            instance(S.STOPPING)),
    morning("forced-on-weekend", berlin("2026-12-05 10:00"), OPTED_IN, START,
            "manual morning start at 10:00 Europe/Berlin", forced=True),
    morning("started-this-morning-and-stopped-again", berlin("2026-12-07 09:00"), OPTED_IN, LEAVE,
            "already started at 08:00 Europe/Berlin and stopped since; started once a morning",
            instance(S.STOPPED, started=berlin("2026-12-07 08:00"))),
    morning("started-yesterday-stopped-overnight", MORNING_NOW, OPTED_IN, START, MORNING_0800,
            instance(S.STOPPED, started=berlin("2026-12-06 08:00"))),
    morning("forced-not-opted-in", berlin("2026-12-05 10:00"), (), LEAVE, "morning start is off",
            forced=True),
]  # fmt: skip


@pytest.mark.parametrize("case", MORNING_CASES)
def test_morning(case: MorningCase) -> None:
    decisions = decide(
        RunKind.MORNING,
        case.now,
        [case.instance],
        [],
        [],
        {"ml": case.policy},
        case.mornings,
        forced=case.forced,
    )
    assert [(d.action, d.reason) for d in decisions] == [(case.action, case.reason)]


def test_morning_start_instant_is_the_scheduled_one() -> None:
    [decision] = decide(RunKind.MORNING, MORNING_NOW, [STOPPED], [], [], {"ml": policy()}, OPTED_IN)
    assert decision.instant == utc("2026-12-07 07:00")


def test_one_decision_per_instance_in_input_order() -> None:
    fleet = [instance(name=n) for n in ("c", "a", "b")] + [instance(S.STOPPED, name="d")]
    decisions = decide(RunKind.CURFEW, CURFEW_NOW, fleet, [], [], {"ml": policy()})
    assert [(d.instance.name, d.action) for d in decisions] == [
        ("c", STOP),
        ("a", STOP),
        ("b", STOP),
        ("d", LEAVE),
    ]


NAIVE = datetime(2026, 12, 4, 0, 5)


@pytest.mark.parametrize("kind", list(RunKind))
def test_naive_now_is_refused(kind: RunKind) -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        decide(kind, NAIVE, [], [], [], {})


def test_naive_now_is_refused_by_tonight() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        tonight(NAIVE, instance(), [], [], policy())


def test_naive_last_started_at_is_refused() -> None:
    policies: Mapping[str, WorkspacePolicy] = {"ml": policy()}
    with pytest.raises(ValueError, match="last_started_at must be timezone-aware"):
        decide(RunKind.CURFEW, CURFEW_NOW, [instance(started=NAIVE)], [], [], policies)
