"""`idle NAME 120` and `why NAME` through /api/messages (real Teams activity JSON, connector stand-in),
on the simulated demo fleet: gpu-ci has no idle shutdown, cpu-ci was started by its own schedule,
train-ci runs a job, alex-gpu (Alex's) has been busy for hours with idle shutdown set."""

from __future__ import annotations

import json

from domain.model import InstanceKey
from storage.models import SimInstanceRow
from tests.bot_harness import ALEX, DANA, MORGAN, BotEnv


async def idle_of(env: BotEnv, name: str) -> int | None:
    return (await env.runtime.fleet.get_instance("demo", name)).idle_shutdown_minutes


async def test_the_owner_sets_idle_shutdown_and_the_reply_states_it(curfew_env: BotEnv) -> None:
    [reply] = await curfew_env.say("idle gpu-ci 120", DANA)
    assert "gpu-ci" in reply.text and "2 hours idle" in reply.text
    assert await idle_of(curfew_env, "gpu-ci") == 120
    [reply] = await curfew_env.say("idle shutdown gpu-ci after 90 minutes", DANA)
    assert await idle_of(curfew_env, "gpu-ci") == 90
    trail = await curfew_env.store.call(curfew_env.store.audit.for_instance, InstanceKey("demo", "gpu-ci"))
    assert [e.outcome for e in trail if e.action == "chat idle shutdown"] == ["set", "set"]


async def test_someone_else_changes_nothing(curfew_env: BotEnv) -> None:
    [reply] = await curfew_env.say("idle gpu-ci 120", MORGAN)
    assert "not yours" in reply.text
    assert await idle_of(curfew_env, "gpu-ci") is None
    assert ("idle", "demo", "gpu-ci") not in curfew_env.fleet.calls
    trail = await curfew_env.store.call(curfew_env.store.audit.for_instance, InstanceKey("demo", "gpu-ci"))
    assert trail == []  # the attempt is the security log's, not gpu-ci's history
    logged = await curfew_env.store.call(curfew_env.store.security.since)
    assert [(e.actor, e.action, e.instance) for e in logged] == [
        (MORGAN.aad_id, "chat change the idle shutdown of", "gpu-ci")
    ]


async def test_the_owner_stays_within_the_bound_and_cannot_switch_it_off(curfew_env: BotEnv) -> None:
    [over] = await curfew_env.say("idle cpu-ci 600", DANA)
    assert "240" in over.text or "4 hours" in over.text
    [off] = await curfew_env.say("idle cpu-ci off", DANA)
    assert "Only an admin" in off.text
    [short] = await curfew_env.say("idle cpu-ci 5", DANA)
    assert "15 minutes" in short.text
    assert await idle_of(curfew_env, "cpu-ci") == 60
    assert not [c for c in curfew_env.fleet.calls if c[0] == "idle"]


async def test_an_admin_may_set_any_value_and_off(curfew_env: BotEnv) -> None:
    settings = curfew_env.runtime.settings
    curfew_env.runtime.settings = settings.model_copy(update={"demo_admins": [MORGAN.aad_id]})
    [long] = await curfew_env.say("idle cpu-ci 1440", MORGAN)
    assert "1 day" in long.text and await idle_of(curfew_env, "cpu-ci") == 1440
    [off] = await curfew_env.say("idle cpu-ci off", MORGAN)
    assert "off" in off.text and await idle_of(curfew_env, "cpu-ci") is None


def card_text(card: dict[str, object]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_why_names_the_cause(curfew_env: BotEnv) -> None:
    [job] = await curfew_env.say("why train-ci", DANA)
    assert job.card is not None and "A job is running on it (train-42 (fine-tuning))" in card_text(job.card)
    [own] = await curfew_env.say("why is cpu-ci still on", DANA)
    assert own.card is not None
    text = card_text(own.card)
    assert "Its own Azure ML schedule started it 3 hours ago" in text
    assert "Start at 07:00 Europe/Berlin, mon,tue,wed,thu,fri" in text
    assert "starts it while the curfew keeps it off" in text  # 07:00 is before the 08:00 morning start
    assert "trigger Schedule" in text
    [unset] = await curfew_env.say("why gpu-ci", DANA)
    assert unset.card is not None and "no idle shutdown set" in card_text(unset.card)
    [busy] = await curfew_env.say("why alex-gpu", ALEX)
    assert busy.card is not None
    assert "busy for 5 hours without a job: an open terminal, kernel or VS Code session" in card_text(
        busy.card
    )
    [refused] = await curfew_env.say("why alex-gpu", DANA)
    assert "not yours" in refused.text


async def test_a_keep_on_says_that_the_instances_own_schedule_will_still_stop_it(curfew_env: BotEnv) -> None:
    stop_at_six = {
        "action": "Stop",
        "status": "Enabled",
        "triggerType": "Recurrence",
        "recurrence": {
            "frequency": "Day",
            "interval": 1,
            "timeZone": "W. Europe Standard Time",
            "schedule": {"hours": [6], "minutes": [0]},
        },
    }
    with curfew_env.store.sessions.begin() as session:
        row = session.get(SimInstanceRow, ("demo", "gpu-ci"))
        assert row is not None
        row.schedules = [stop_at_six]
    [reply] = await curfew_env.say("keep gpu-ci on tonight", DANA)
    assert reply.card is not None
    said = card_text(reply.card)
    assert "Kept gpu-ci" in said
    assert (
        "Azure ML's own schedule of gpu-ci (Stop at 06:00 Europe/Berlin, every day) will still stop it"
        in said
    )
    [status] = await curfew_env.say("status", DANA)
    assert status.card is not None
    shown = card_text(status.card)
    assert (
        "gpu-ci: its own schedule (Stop at 06:00 Europe/Berlin, every day) stops it while a keep-on" in shown
    )


async def test_status_flags_long_runners_and_schedules_against_the_curfew(curfew_env: BotEnv) -> None:
    [status] = await curfew_env.say("status", DANA)
    assert status.card is not None
    shown = card_text(status.card)
    assert "train-ci has run for 30 hours, longer than its idle time plus a day: say `why train-ci`." in shown
    assert "gpu-ci has run" not in shown  # 9 hours: not yet a day past its (missing) idle time
    assert "cpu-ci: its own schedule (Start at 07:00 Europe/Berlin, mon,tue,wed,thu,fri) starts it" in shown
