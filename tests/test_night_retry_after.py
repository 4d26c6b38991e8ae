"""Issue 13, finding 1 at the port: Retry-After as seconds, an HTTP date or anything else, capped;
unknown SDK errors become Curfew's own Unavailable. Through the unmodified SDK on the ARM stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from compute.azureml_errors import MAX_RETRY_AFTER_S, parse_retry_after
from compute.port import Unavailable
from config.settings import Settings
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests import arm_json
from tests.arm_fixtures import RESEARCH, TEAMS_TENANT, TENANT, VISION, make_fleet, seed_instance
from tests.arm_standin import ArmStandIn

NOW = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
OWNER = "00000000-0000-0000-0000-000000000020"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 02 Dec 2026 20:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 19:00:00 GMT", 0.0),  # in the past
        ("Wed, 02 Dec 2026 20:00:30 -0000", 30.0),  # a date without a zone is read as UTC
        ("soon", 7.0),
        ("", 7.0),
        ("nan", 7.0),
        ("inf", MAX_RETRY_AFTER_S),
        ("86400", MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_is_seconds_or_a_date_else_the_default_and_capped(header: str, expected: float) -> None:
    assert parse_retry_after(header, default=7.0, now=NOW) == pytest.approx(expected)


def runtime(arm: ArmStandIn, store: Store) -> Runtime:
    workspaces = [
        {
            "alias": ws.alias,
            "subscription_id": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace": ws.workspace,
        }
        for ws in (RESEARCH, VISION)
    ]
    settings = Settings.model_validate(
        {
            "timezone": "UTC",
            "curfew": {"verify_seconds": 3, "verify_interval_seconds": 0.3},
            "teams": {"tenant_id": TEAMS_TENANT},
            "workspaces": workspaces,
        }
    )
    return Runtime(settings, store, make_fleet(arm))


def seed(arm: ArmStandIn, ws: Any, *names: str) -> None:
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


async def test_a_non_numeric_retry_after_on_a_stop_waits_the_default_and_loses_nothing(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    seed(arm, RESEARCH, "ci-00", "ci-01", "ci-02")
    arm.fail_next("POST", r"/computes/ci-01/stop$", 429, headers={"Retry-After": "soon"})
    rt = runtime(arm, sqlite_store)
    report = await Sweeper(rt).curfew(forced=True, workspaces=["research"])
    await rt.fleet.close()
    assert {o.instance.name: o.kind for o in report.outcomes} == dict.fromkeys(
        ["ci-00", "ci-01", "ci-02"], OutcomeKind.STOPPED
    )
    assert len(arm.requests_matching("POST", r"/computes/ci-01/stop$")) == 2
    audit = await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1))
    assert len(audit) == 3


async def test_a_malformed_entity_is_one_failed_instance_and_the_curfew_goes_on(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    seed(arm, RESEARCH, "ci-ok")
    seed(arm, VISION, "vis-00", "vis-01")
    good = arm_json.compute_json(arm.instance("ci-ok", "ws-research"))
    bad = {**good, "name": "ci-odd", "properties": {"computeType": "ComputeInstance", "properties": "oops"}}
    arm.fail_next("GET", r"/ws-research/computes$", 200, body={"value": [good, bad]})  # the sweep's read
    rt = runtime(arm, sqlite_store)
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()
    got = {(o.instance.workspace, o.instance.name): o.kind for o in report.outcomes}
    assert (
        got[("vision", "vis-00")] is OutcomeKind.STOPPED and got[("vision", "vis-01")] is OutcomeKind.STOPPED
    )
    assert got[("research", "ci-ok")] is OutcomeKind.STOPPED  # its own workspace goes on too
    assert [(o.instance.workspace, o.instance.name) for o in report.failures] == [("research", "ci-odd")]
    assert "could not be read" in report.failures[0].detail
    audit = await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1))
    assert ("research", "ci-odd", "failed") in {(e.workspace, e.instance, e.outcome) for e in audit}


async def test_an_unreadable_retry_after_on_a_read_is_unavailable_not_a_raw_error(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    """The SDK's own retry policy raises ValueError on `Retry-After: soon`; the port says Unavailable."""
    arm.fail_next("GET", r"/computes$", 429, headers={"Retry-After": "soon"}, times=10)
    fleet = make_fleet(arm, workspaces=[RESEARCH])
    try:
        with pytest.raises(Unavailable, match="research"):
            await fleet.list_instances("research")
    finally:
        await fleet.close()
