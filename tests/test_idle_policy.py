"""The idle-shutdown core, table-driven: who is outside the policy, who may choose what, the likely
cause behind `why`, the chat grammar, Azure's shapes, the configuration and doctor's check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cli.doctor_idle import check_idle_shutdown
from compute import azure_shapes
from config.settings import ConfigError, Settings, load_settings
from domain import grammar as g
from domain.idle import IdlePolicy, WhyFacts, choice_refused, likely_cause, plan_idle
from domain.model import ComputeSchedule, Instance, InstanceState, Job, LastOperation

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLICY = IdlePolicy(minutes=60, max_minutes=240)


def instance(name: str, idle: int | None = 60, **kw: object) -> Instance:
    base: dict[str, object] = {
        "workspace": "team-a",
        "name": name,
        "size": "Standard_DS3_v2",
        "state": InstanceState.RUNNING,
        "idle_shutdown_minutes": idle,
        "last_started_at": NOW - timedelta(days=3),
    }
    base.update(kw)
    return Instance(**base)  # type: ignore[arg-type]


def test_the_pass_changes_exactly_the_instances_outside_the_policy() -> None:
    fleet = [instance("none", None), instance("long", 241), instance("bound", 240), instance("short", 15)]
    changes = plan_idle(fleet, POLICY)
    assert [(c.instance.name, c.before, c.after) for c in changes] == [("none", None, 60), ("long", 241, 60)]
    assert changes[0].reason == "no idle shutdown"
    assert "over the bound of 4 hours" in changes[1].reason


@pytest.mark.parametrize(
    ("minutes", "admin", "refused"),
    [
        (120, False, None),
        (15, False, None),
        (240, False, None),
        (241, False, "the workspace's bound"),
        (None, False, "Only an admin"),
        (14, False, "15 minutes to 3 days"),
        (1440, True, None),
        (None, True, None),
        (3 * 24 * 60 + 1, True, "15 minutes to 3 days"),
    ],
)
def test_who_may_choose_what(minutes: int | None, admin: bool, refused: str | None) -> None:
    answer = choice_refused(minutes, POLICY, admin=admin)
    assert (answer is None) if refused is None else (answer is not None and refused in answer)


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        (instance("busy"), "busy for 3 days without a job: an open terminal, kernel or VS Code session"),
        (instance("unset", None), "no idle shutdown set"),
        (
            instance("sched", last_operation=LastOperation("Start", NOW, "Succeeded", "Schedule")),
            "Its own Azure ML schedule started it",
        ),
        (
            instance(
                "idled",
                state=InstanceState.STOPPED,
                last_operation=LastOperation("Stop", NOW, "Succeeded", "IdleShutdown"),
            ),
            "Azure's idle shutdown stopped it",
        ),
    ],
)
def test_the_likely_cause(case: Instance, cause: str) -> None:
    assert cause in likely_cause(WhyFacts(case, (), (), (), NOW))


def test_a_job_is_the_cause_before_anything_else() -> None:
    job = Job("team-a", "j1", "busy", "Running", "nightly train")
    assert "A job is running on it (nightly train)" in likely_cause(
        WhyFacts(instance("busy"), [job], (), (), NOW)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("idle gpu-ci 120", g.SetIdleShutdown(g.Target("gpu-ci"), 120)),
        ("idle shutdown gpu-ci after 2 hours", g.SetIdleShutdown(g.Target("gpu-ci"), 120)),
        ("idle gpu-ci off", g.SetIdleShutdown(g.Target("gpu-ci"), None)),
        (
            "set idle shutdown of gpu-ci@team-a to 90 minutes",
            g.SetIdleShutdown(g.Target("gpu-ci", "team-a"), 90),
        ),
        ("why gpu-ci", g.Why(g.Target("gpu-ci"))),
        ("why is gpu-ci still on?", g.Why(g.Target("gpu-ci"))),
        ("idle gpu-ci", "After how long idle"),
        ("idle gpu-ci soonish", "could not read"),
        ("idle", "Which instance"),
    ],
)
def test_the_grammar(text: str, expected: object) -> None:
    parsed = g.parse_command(text, NOW, ZoneInfo("UTC"))
    if isinstance(expected, str):
        assert isinstance(parsed, g.ParseError) and expected in parsed.message
    else:
        assert parsed == expected


def test_azures_shapes_are_read() -> None:
    op = azure_shapes.last_operation(
        {
            "operationName": "Stop",
            "operationTime": "2026-12-01T18:00:00Z",
            "operationStatus": "Succeeded",
            "operationTrigger": "Schedule",
        }
    )
    assert op == LastOperation("Stop", datetime(2026, 12, 1, 18, 0, tzinfo=UTC), "Succeeded", "Schedule")
    assert azure_shapes.last_operation(None) is None
    [cron, unreadable] = azure_shapes.schedules(
        [
            {
                "action": "Stop",
                "triggerType": "Cron",
                "cron": {"expression": "30 18 * * 1,3,5", "timeZone": "UTC"},
            },
            {"action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 */2 * * *"}},
            {"action": "Restart"},
        ]
    )
    assert cron == ComputeSchedule("Stop", True, "UTC", (18,), (30,), frozenset({0, 2, 4}), "30 18 * * 1,3,5")
    assert unreadable.expression == "0 */2 * * *" and unreadable.hours == ()


def test_the_policy_is_global_with_workspace_overrides(tmp_path: object) -> None:
    settings = Settings.model_validate(
        {
            "idle_shutdown": {"minutes": 30, "max_minutes": 120},
            "teams": {"tenant_id": "00000000-0000-0000-0000-000000000001"},
            "workspaces": [
                {
                    "alias": "a",
                    "subscription_id": "00000000-0000-0000-0000-000000000001",
                    "resource_group": "r",
                    "workspace": "w",
                },
                {
                    "alias": "b",
                    "subscription_id": "00000000-0000-0000-0000-000000000001",
                    "resource_group": "r",
                    "workspace": "w2",
                    "idle_shutdown": {"minutes": 90, "max_minutes": 480, "enforce": False},
                },
            ],
        }
    )
    assert settings.idle_policy("a") == IdlePolicy(30, 120, True)
    assert settings.idle_policy("b") == IdlePolicy(90, 480, False)
    with pytest.raises(Exception, match="minutes must not be longer than max_minutes"):
        Settings.model_validate({"idle_shutdown": {"minutes": 300, "max_minutes": 240}})


def test_a_bad_idle_key_names_itself(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "curfew.yaml"
    path.write_text("idle_shutdown: {minutes: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert error.value.problems[0].startswith("idle_shutdown.minutes:")


def test_doctor_lists_instances_without_idle_shutdown_and_over_the_bound() -> None:
    settings = Settings.model_validate({"idle_shutdown": {"max_minutes": 240}})
    start_at_night = ComputeSchedule("Start", True, "Europe/Berlin", (3,), (0,))
    fleet = [instance("none", None), instance("long", 600), instance("fine", 60, schedules=(start_at_night,))]
    warned: list[str] = []
    assert check_idle_shutdown(settings, "demo", fleet, NOW, warned.append) == 3
    assert warned[0] == "workspace demo: without idle shutdown: none"
    assert warned[1].startswith("workspace demo: idle shutdown over 4 hours: long (10 hours)")
    assert (
        "fine: its own schedule (Start at 03:00 Europe/Berlin, every day) starts it while the curfew"
        in warned[2]
    )
