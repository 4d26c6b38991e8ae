"""The daily idle-shutdown pass through the unmodified azure-ai-ml SDK against the ARM stand-in (TLS):
exactly the instances outside the policy get `updateIdleShutdownSetting` with the specification's body,
each owner gets one card, and the run is claimed once. Also Azure's lastOperation and own schedules,
read back into the domain's instance."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer

from app import create_app
from bot.flows.notifier import TeamsNotifier
from compute.azureml import AzureMLFleet
from compute.port import InvalidRequest
from config.settings import Settings, TeamsSettings
from domain.model import ComputeSchedule
from runtime import Runtime
from scheduler.service import CurfewScheduler
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, VISION, seed_instance, seed_job
from tests.arm_standin import ArmStandIn
from tests.bot_harness import DANA, MORGAN, BotEnv, SwitchableHandler, TeamsActivities
from tests.bot_harness import TENANT as TEAMS_TENANT
from tests.conftest import FakeClock
from tests.connector_standin import ConnectorStandIn
from tests.protocol_env import QUICK
from tests.sweep_fixtures import FleetSpy
from tests.test_warning_card import Inbox

ANNA = "00000000-0000-0000-0000-000000000020"
BEN = "00000000-0000-0000-0000-000000000021"
NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 Europe/Berlin
IDLE_CALL = r"/computes/[^/]+/updateIdleShutdownSetting$"


def settings() -> Settings:
    return Settings.model_validate(
        {
            "teams": {"tenant_id": TEAMS_TENANT},
            "workspaces": [
                {
                    "alias": ws.alias,
                    "subscription_id": ws.subscription_id,
                    "resource_group": ws.resource_group,
                    "workspace": ws.workspace,
                    "timezone": ws.timezone,
                }
                for ws in (RESEARCH, VISION)
            ],
            "idle_shutdown": {"minutes": 60, "max_minutes": 240},
        }
    )


async def test_the_daily_pass_sets_exactly_the_instances_outside_the_policy(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(arm, RESEARCH, "ci-none", owner_object_id=ANNA, idle_shutdown_minutes=None)
    seed_instance(arm, RESEARCH, "ci-long", owner_object_id=ANNA, idle_shutdown_minutes=600)
    seed_instance(arm, RESEARCH, "ci-fine", owner_object_id=ANNA, idle_shutdown_minutes=60)
    seed_instance(arm, RESEARCH, "ci-bound", owner_object_id=BEN, idle_shutdown_minutes=240)
    seed_instance(
        arm, RESEARCH, "ci-stopped", state="Stopped", owner_object_id=BEN, idle_shutdown_minutes=None
    )
    rt = Runtime(settings(), sqlite_store, azure_fleet, FakeClock(NOON))
    inbox = Inbox()
    scheduler = CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="replica-a")
    other = CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="replica-b")

    claim = await scheduler.run("idle", "Europe/Berlin", NOON)
    assert claim is not None
    assert await other.run("idle", "Europe/Berlin", NOON) is None  # claimed once across replicas

    calls = arm.requests_matching("POST", IDLE_CALL)
    assert sorted(c.path.rsplit("/", 2)[-2] for c in calls) == ["ci-long", "ci-none", "ci-stopped"]
    assert [(c.body, c.status) for c in calls] == [({"idleTimeBeforeShutdown": "PT60M"}, 200)] * 3
    assert {c.query["api-version"] for c in calls} == {"2025-12-01"}
    assert {r.name: r.idle_shutdown_minutes for r in arm.instances} == {
        "ci-none": 60,
        "ci-long": 60,
        "ci-fine": 60,
        "ci-bound": 240,
        "ci-stopped": 60,
    }
    [anna_card] = inbox.cards_for(ANNA)
    text = json.dumps(anna_card, ensure_ascii=False)
    assert "ci-none (research)" in text and "ci-long (research)" in text and "ci-fine" not in text
    assert "off → 1 hour" in text and "10 hours → 1 hour" in text and "idle ci-none 120" in text
    [ben_card] = inbox.cards_for(BEN)
    assert "ci-stopped" in json.dumps(ben_card) and "ci-bound" not in json.dumps(ben_card)
    listed = {i.name: i.idle_shutdown_minutes for i in await azure_fleet.list_instances("research")}
    assert listed["ci-none"] == 60 and listed["ci-long"] == 60


async def test_a_pass_not_enforced_only_reports(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(arm, RESEARCH, "ci-none", owner_object_id=ANNA, idle_shutdown_minutes=None)
    base = settings().model_dump()
    base["idle_shutdown"]["enforce"] = False
    rt = Runtime(Settings.model_validate(base), sqlite_store, azure_fleet, FakeClock(NOON))
    inbox = Inbox()
    assert await CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock)).run("idle", "Europe/Berlin")
    assert not arm.requests_matching("POST", IDLE_CALL) and not inbox.sent
    assert arm.instance("ci-none").idle_shutdown_minutes is None


async def test_the_adapter_reads_last_operation_and_own_schedules(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    record = seed_instance(arm, RESEARCH, "ci-sched", owner_object_id=ANNA)
    record.schedules = [
        {
            "action": "Start",
            "status": "Enabled",
            "triggerType": "Cron",
            "cron": {
                "startTime": "2026-01-01T00:00:00",
                "timeZone": "W. Europe Standard Time",
                "expression": "0 7 * * 1-5",
            },
        },
        {
            "action": "Stop",
            "status": "Disabled",
            "triggerType": "Recurrence",
            "recurrence": {
                "frequency": "Week",
                "interval": 1,
                "timeZone": "UTC",
                "schedule": {"hours": [19], "minutes": [30], "weekDays": ["Monday", "Friday"]},
            },
        },
    ]
    arm.state.stop_by(record.workspace, "ci-sched", "IdleShutdown")

    instance = await azure_fleet.get_instance("research", "ci-sched")

    assert instance.state.value == "Stopped"
    assert instance.last_operation is not None
    assert (
        instance.last_operation.name,
        instance.last_operation.status,
        instance.last_operation.trigger,
    ) == (
        "Stop",
        "Succeeded",
        "IdleShutdown",
    )
    assert instance.schedules == (
        ComputeSchedule("Start", True, "Europe/Berlin", (7,), (0,), frozenset(range(5)), "0 7 * * 1-5"),
        ComputeSchedule("Stop", False, "UTC", (19,), (30,), frozenset({0, 4})),
    )


async def test_azure_refuses_an_idle_time_outside_its_range(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(arm, RESEARCH, "ci-a", owner_object_id=ANNA)
    try:
        await azure_fleet.set_idle_shutdown("research", "ci-a", 5)
    except InvalidRequest as refused:
        assert "PT15M" in str(refused)
    else:
        raise AssertionError("a 5-minute idle shutdown was accepted")
    assert arm.instance("ci-a").idle_shutdown_minutes == 60


@asynccontextmanager
async def arm_chat(
    azure_fleet: AzureMLFleet, store: Store, base: Settings | None = None, now: datetime = NOON
) -> AsyncIterator[BotEnv]:
    """The service over the Azure ML fleet (ARM stand-in) with the connector stand-in as Teams;
    `base`: other settings than this module's, `now`: the fake clock's start."""
    async with ConnectorStandIn() as connector:
        teams = TeamsSettings(tenant_id=TEAMS_TENANT, service_url=connector.url)
        clock = FakeClock(now)
        configured = (base or settings()).model_copy(update={"teams": teams})
        rt = Runtime(configured, store, FleetSpy(azure_fleet), clock)
        switch = SwitchableHandler(None)
        app = create_app(
            rt.settings, runtime=rt, clock=clock, scheduler=False, tuning=QUICK, handler=switch.wrap
        )
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert isinstance(rt.fleet, FleetSpy)
            yield BotEnv(client, connector, rt, rt.fleet, clock, TeamsActivities(connector.url), switch)


async def test_chat_idle_and_why_against_the_arm_stand_in(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(
        arm,
        RESEARCH,
        "ci-dana",
        owner_object_id=DANA.aad_id,
        idle_shutdown_minutes=None,
        last_started_at=NOON - timedelta(days=3),
    )
    seed_instance(
        arm, RESEARCH, "ci-job", owner_object_id=DANA.aad_id, last_started_at=NOON - timedelta(hours=5)
    )
    seed_job(arm, RESEARCH, "job-7", "ci-job", display_name="train resnet")
    own = seed_instance(arm, RESEARCH, "ci-own", owner_object_id=DANA.aad_id, state="Stopped")
    own.schedules = [
        {
            "action": "Start",
            "status": "Enabled",
            "triggerType": "Cron",
            "cron": {"expression": "0 7 * * 1-5", "timeZone": "UTC"},
        }
    ]
    arm.state.start_by_schedule(own.workspace, "ci-own")
    seed_instance(arm, RESEARCH, "ci-long", owner_object_id=DANA.aad_id, idle_shutdown_minutes=600)
    async with arm_chat(azure_fleet, sqlite_store) as env:
        [refused] = await env.say("idle ci-dana 120", MORGAN)
        assert "not yours" in refused.text and not arm.requests_matching("POST", IDLE_CALL)
        [done] = await env.say("idle ci-dana 120", DANA)
        assert "2 hours idle" in done.text
        [call] = arm.requests_matching("POST", IDLE_CALL)
        assert call.body == {"idleTimeBeforeShutdown": "PT120M"} and call.status == 200
        assert arm.instance("ci-dana").idle_shutdown_minutes == 120

        [busy] = await env.say("why ci-dana", DANA)
        assert busy.card is not None and "busy for 3 days without a job" in json.dumps(busy.card)
        [job] = await env.say("why ci-job", DANA)
        assert job.card is not None and "A job is running on it (train resnet)" in json.dumps(job.card)
        [scheduled] = await env.say("why ci-own", DANA)
        shown = json.dumps(scheduled.card)
        assert "Its own Azure ML schedule started it" in shown and "trigger Schedule" in shown
        assert "Start at 07:00 UTC, mon,tue,wed,thu,fri" in shown

        # the daily pass, through the service's Teams notifier: one card to Dana's chat, for ci-long only
        before = len(env.connector.sent())
        assert await CurfewScheduler(env.runtime, env.service.notifier).run("idle", "Europe/Berlin", NOON)
        sent = [r for r in env.connector.sent()[before:] if r.is_activity]
        assert [r.conversation_id for r in sent] == [DANA.chat_id]
        assert sent[0].card is not None
        card = json.dumps(sent[0].card, ensure_ascii=False)
        assert "ci-long (research)" in card and "10 hours → 1 hour" in card and "ci-dana" not in card
        assert arm.instance("ci-long").idle_shutdown_minutes == 60
        assert len(arm.requests_matching("POST", IDLE_CALL)) == 2  # Dana's own 120, then the pass's ci-long
