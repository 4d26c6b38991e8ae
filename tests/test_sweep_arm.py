"""The sweep through the real SDK against the ARM stand-in: a keep-on written between the decision
and the stop call prevents the stop; ARM's throttling and a failing instance lose nothing else; a
workspace's stops begin as soon as its listing arrives (not after the last workspace is listed), and
the verification after the stops still catches an instance that Azure accepted to stop but that came
back Running, reading the few still in transition with gets instead of listing the workspace again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from compute.port import Workspace
from config.settings import Settings
from domain.model import KeepOnState
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import NewKeepOn, Store
from tests.arm_fixtures import (
    RESEARCH,
    SUBSCRIPTION,
    TEAMS_TENANT,
    TENANT,
    VISION,
    make_fleet,
    seed_instance,
    workspace_settings,
)
from tests.arm_standin import ArmStandIn, Limits

OWNER = "00000000-0000-0000-0000-000000000020"

CURFEW = {"verify_seconds": 8, "verify_interval_seconds": 1}


def runtime(arm: ArmStandIn, store: Store, **fleet: object) -> Runtime:
    settings = Settings.model_validate(
        {
            "timezone": "UTC",
            "curfew": {"verify_seconds": 3, "verify_interval_seconds": 0.3},
            "teams": {"tenant_id": TEAMS_TENANT},
            "workspaces": [
                {
                    "alias": "research",
                    "subscription_id": SUBSCRIPTION,
                    "resource_group": "rg-ml",
                    "workspace": "ws-research",
                }
            ],
        }
    )
    return Runtime(settings, store, make_fleet(arm, workspaces=[RESEARCH], **fleet))


def seed(arm: ArmStandIn, count: int, ws: Workspace = RESEARCH) -> list[str]:
    names = [f"ci-{n:02}" for n in range(count)]
    for name in names:
        seed_instance(
            arm,
            ws,
            name,
            state="Running",
            owner_object_id=OWNER,
            owner_tenant_id=TENANT,
            last_started_at=datetime.now(UTC) - timedelta(hours=3),
        )
    return names


async def test_a_keep_on_between_decision_and_stop_call_prevents_the_stop(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    rt = runtime(arm, sqlite_store)
    seed(arm, 4)
    repo = sqlite_store.keep_ons
    original = repo.in_force

    def in_force_then_keep(now, keys=None):  # type: ignore[no-untyped-def]
        result = original(now, keys)
        if keys is None:  # the sweep has just read the keep-ons and decided
            repo.add(
                NewKeepOn(
                    "research",
                    "ci-02",
                    OWNER,
                    now,
                    now + timedelta(hours=2),
                    "demo at 9",
                    OWNER,
                    "Dana",
                    KeepOnState.ACTIVE,
                ),
                now,
            )
        return result

    repo.in_force = in_force_then_keep  # type: ignore[method-assign]
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()
    outcomes = {o.instance.name: o.kind for o in report.outcomes}
    assert outcomes == {
        "ci-00": OutcomeKind.STOPPED,
        "ci-01": OutcomeKind.STOPPED,
        "ci-02": OutcomeKind.LEFT,
        "ci-03": OutcomeKind.STOPPED,
    }
    stopped = sorted(r.path.rsplit("/", 2)[-2] for r in arm.requests_matching("POST", r"/stop$"))
    assert stopped == ["ci-00", "ci-01", "ci-03"]
    assert arm.instance("ci-02").state == "Running"


async def test_throttling_and_a_failing_instance_lose_nothing_else(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    arm.limits = Limits(writes=(3, 20.0))
    names = seed(arm, 12)
    arm.fail_next("POST", r"/computes/ci-05/stop$", 500, times=10)
    rt = runtime(arm, sqlite_store, writes_per_second=50.0, write_burst=20)  # a client budget above ARM's
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()
    failed = [o.instance.name for o in report.failures]
    assert failed == ["ci-05"]
    assert sorted(o.instance.name for o in report.outcomes if o.kind is OutcomeKind.STOPPED) == [
        n for n in names if n != "ci-05"
    ]
    assert arm.counters.throttled > 0  # ARM said 429 and the sweep waited as told


async def test_a_workspaces_stops_begin_before_the_last_workspace_is_listed(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    seed(arm, 4)
    seed(arm, 4, VISION)
    # ARM throttles vision's first listing and says when to come back; research's is answered at once
    arm.fail_next("GET", r"ws-vision/computes$", 429, headers={"Retry-After": "2"})
    rt = Runtime(workspace_settings(RESEARCH, VISION, curfew=CURFEW), sqlite_store, make_fleet(arm))
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    assert report.count(OutcomeKind.STOPPED) == 8, report.summary()
    log = arm.requests
    vision_listed = next(
        n
        for n, r in enumerate(log)
        if r.method == "GET" and r.path.endswith("ws-vision/computes") and r.status == 200
    )
    first_stop = next(n for n, r in enumerate(log) if r.method == "POST" and r.path.endswith("/stop"))
    assert "/ws-research/computes/" in log[first_stop].path
    assert first_stop < vision_listed  # research's stops did not wait for vision's listing


async def test_a_pages_stops_begin_before_the_next_page_is_read(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    arm.page_size = 2
    seed(arm, 6)
    # ARM throttles the second page and says when to come back; the first page is answered at once
    arm.fail_next("GET", r"ws-research/computes$", 429, headers={"Retry-After": "2"}, query_regex=r"skip=")
    rt = runtime(arm, sqlite_store)
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    assert report.count(OutcomeKind.STOPPED) == 6, report.summary()
    log = arm.requests
    pages = [n for n, r in enumerate(log) if r.method == "GET" and r.path.endswith("/computes")]
    second_page = next(n for n in pages if "$skip" in log[n].query and log[n].status == 200)
    stops = [log[n].path.rsplit("/", 2)[1] for n in range(second_page) if log[n].method == "POST"]
    assert sorted(stops) == ["ci-00", "ci-01"]  # the first page's, before the second page arrived


async def test_a_listing_that_fails_after_its_first_page_fails_the_workspace_and_the_page_stands(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    arm.page_size = 2
    seed(arm, 6)
    arm.fail_next("GET", r"ws-research/computes$", 403, query_regex=r"skip=")
    rt = runtime(arm, sqlite_store)
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    stopped = sorted(o.instance.name for o in report.outcomes if o.kind is OutcomeKind.STOPPED)
    assert stopped == ["ci-00", "ci-01"]
    [failed] = report.failures
    assert failed.instance.workspace == "research" and failed.instance.name == "(workspace)"
    assert arm.instance("ci-02").state == "Running"


async def test_the_verification_reads_the_few_in_transition_with_gets_and_catches_one_back_running(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    arm.state.op_seconds = 2.0  # the first check, right after the stops, sees them all Stopping
    names = seed(arm, 6)
    failing = names[3]
    arm.fail_next_operation(
        RESEARCH.subscription_id,
        RESEARCH.resource_group,
        RESEARCH.workspace,
        failing,
        "StopComputeInstanceFailed",
        "The instance could not be stopped.",
    )
    rt = Runtime(
        workspace_settings(RESEARCH, curfew=CURFEW), sqlite_store, make_fleet(arm, workspaces=[RESEARCH])
    )
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    [failed] = report.failures
    assert failed.instance.name == failing
    assert f"{failing} is Running again" in failed.detail
    confirmed = sorted(o.instance.name for o in report.outcomes if o.detail == "confirmed Stopped")
    assert confirmed == [n for n in names if n != failing]
    listings = arm.requests_matching("GET", r"ws-research/computes$")
    assert len(listings) == 2  # the sweep's own read and the first check; no listing after that
    gets = arm.requests_matching("GET", rf"ws-research/computes/{failing}$")
    assert gets and all(g.at > listings[-1].at for g in gets)
    assert arm.instance(failing).state == "Running"


THIRD = Workspace("third", SUBSCRIPTION, "rg-ml", "ws-third", "UTC")
"""A second workspace in research's subscription, after it in the configuration."""


async def test_a_subscriptions_first_workspace_is_stopped_first_and_verified_while_the_next_still_stops(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    research, third = seed(arm, 3), seed(arm, 12, THIRD)
    failing = research[1]  # Azure accepts its stop, then it runs again
    arm.fail_next_operation(
        SUBSCRIPTION, RESEARCH.resource_group, RESEARCH.workspace, failing, "StopComputeInstanceFailed", "No."
    )
    # research's listing comes late (ARM says when to come back), so third's stops go out first
    arm.fail_next("GET", r"ws-research/computes$", 429, headers={"Retry-After": "2"})
    settings = workspace_settings(RESEARCH, THIRD, azure={"max_concurrency": 1}, curfew=CURFEW)
    fleet = make_fleet(arm, workspaces=[RESEARCH, THIRD], writes_per_second=4.0, write_burst=1)
    report = await Sweeper(Runtime(settings, sqlite_store, fleet)).curfew(forced=True)
    await fleet.close()

    log = arm.requests
    stops = [(n, r.path.split("/")[8]) for n, r in enumerate(log) if r.method == "POST" and r.status == 202]
    order = [ws for _, ws in stops]
    first = order.index("ws-research")
    assert first > 0, order  # third's first stops did not wait for research's listing
    assert order[first : first + 3] == ["ws-research"] * 3, order  # then research's went first, together
    assert order[first + 3 :] and set(order[first + 3 :]) == {"ws-third"}, order
    research_verified = next(
        n
        for n, r in enumerate(log)
        if r.method == "GET" and r.path.endswith("ws-research/computes") and n > stops[first + 2][0]
    )
    assert research_verified < stops[-1][0]  # research was listed again while third's stops still went out
    [failed] = report.failures
    assert failed.instance.name == failing and f"{failing} is Running again" in failed.detail
    confirmed = sorted(
        (o.instance.workspace, o.instance.name) for o in report.outcomes if o.detail == "confirmed Stopped"
    )
    assert confirmed == [*(("research", n) for n in research if n != failing), *(("third", n) for n in third)]
