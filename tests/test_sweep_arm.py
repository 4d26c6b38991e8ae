"""The sweep through the real SDK against the ARM stand-in: a keep-on written between the decision
and the stop call prevents the stop; ARM's throttling and a failing instance lose nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.settings import Settings
from domain.model import KeepOnState
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import NewKeepOn, Store
from tests.arm_fixtures import RESEARCH, SUBSCRIPTION, TEAMS_TENANT, TENANT, make_fleet, seed_instance
from tests.arm_standin import ArmStandIn, Limits

OWNER = "00000000-0000-0000-0000-000000000020"


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


def seed(arm: ArmStandIn, count: int) -> list[str]:
    names = [f"ci-{n:02}" for n in range(count)]
    for name in names:
        seed_instance(
            arm,
            RESEARCH,
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
