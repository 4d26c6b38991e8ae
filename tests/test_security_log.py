"""History shows what happened to the instance (issue 12, finding 8); refused attempts go to the
security log, rate-limited per sender, and `python app.py audit` shows both without SQL.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from storage.repositories import Store
from storage.security_log import ROWS_PER_WINDOW, WINDOW, Refused
from tests.bot_harness import DANA, MORGAN, BotEnv, words
from tests.conftest import FakeClock
from tests.test_card_data import card_of, warn
from tests.test_service import run_cli
from tests.test_warning_protocol import keep_button

ATTEMPTS = ["stop gpu-ci", "keep gpu-ci tonight", "release gpu-ci", "start gpu-ci"] * 3


async def test_twelve_refusals_by_someone_else_leave_the_owners_keep_on_in_history(
    curfew_env: BotEnv,
) -> None:
    [kept] = await curfew_env.say("keep gpu-ci for 2 hours because training", DANA)
    assert "gpu-ci" in words(kept)
    for attempt in ATTEMPTS:
        [refused] = await curfew_env.say(attempt, MORGAN)
        assert "gpu-ci is not yours" in words(refused)
    [history] = await curfew_env.say("history gpu-ci", DANA)
    shown = json.dumps(history.card)
    assert "chat keep" in shown and "training" in shown
    assert "Morgan" not in shown and "refused" not in shown
    logged = await curfew_env.store.call(curfew_env.store.security.since)
    assert sorted((e.actor, e.action, e.count) for e in logged) == [
        (MORGAN.aad_id, "chat keep", 3),
        (MORGAN.aad_id, "chat release", 3),
        (MORGAN.aad_id, "chat start", 3),
        (MORGAN.aad_id, "chat stop", 3),
    ]
    assert {(e.kind, e.workspace, e.instance) for e in logged} == {("not authorized", "demo", "gpu-ci")}


def refused(clock: FakeClock, action: str = "chat stop", actor: str = MORGAN.aad_id) -> Refused:
    return Refused(clock(), actor, "t", "not authorized", action, "not the owner", "demo", "gpu-ci")


def test_repeats_within_the_window_count_on_one_row(store: Store, clock: FakeClock) -> None:
    for _ in range(5):
        store.security.record(refused(clock))
        clock.advance(minutes=1)
    clock.advance(seconds=WINDOW.total_seconds())
    store.security.record(refused(clock))
    rows = store.security.since()
    assert [r.count for r in rows] == [5, 1]
    assert rows[0].last_at - rows[0].first_at == timedelta(minutes=4)


def test_one_sender_writes_a_bounded_number_of_rows_per_window(store: Store, clock: FakeClock) -> None:
    for n in range(ROWS_PER_WINDOW + 30):
        store.security.record(refused(clock, action=f"chat stop {n}"))
    store.security.record(refused(clock, actor=DANA.aad_id))
    rows = store.security.since()
    morgan = [r for r in rows if r.actor == MORGAN.aad_id]
    assert len(morgan) == ROWS_PER_WINDOW and sum(r.count for r in morgan) == ROWS_PER_WINDOW + 30
    assert [r.count for r in rows if r.actor == DANA.aad_id] == [1]  # others are not held back


async def test_the_audit_command_shows_the_trail_and_the_refusals(curfew_env: BotEnv, tmp_path: Path) -> None:
    await curfew_env.say("keep gpu-ci for 2 hours because training", DANA)
    for attempt in ATTEMPTS[:3]:
        await curfew_env.say(attempt, MORGAN)
    database = {"DATABASE_URL": str(curfew_env.store.engine.url)}

    trail = run_cli(tmp_path, "audit", "--instance", "gpu-ci", "--since", "2026-11-01", env=database)
    assert trail.returncode == 0, trail.stderr
    header, *rows, summary = trail.stdout.splitlines()
    assert header.split() == ["WHEN", "WHO", "WHAT", "INSTANCE", "OUTCOME", "REASON"]
    [keep] = [r for r in rows if "chat keep" in r]
    assert f"Dana Scientist ({DANA.aad_id})" in keep and "gpu-ci@demo" in keep and "training" in keep
    assert not [r for r in rows if MORGAN.aad_id in r]
    assert summary.startswith(f"{len(rows)} event(s) of gpu-ci since 2026-11-01 00:00")

    refusals = run_cli(tmp_path, "audit", "--refusals", "--since", "2026-11-01", env=database)
    assert refusals.returncode == 0, refusals.stderr
    header, *rows, summary = refusals.stdout.splitlines()
    assert header.split()[:4] == ["WHEN", "UNTIL", "TIMES", "WHO"]
    assert len(rows) == 3 and all("Morgan Modeler" in r and "not authorized" in r for r in rows)
    assert {r.split("gpu-ci@demo")[0].split()[-1] for r in rows} == {"stop", "keep", "release"}

    later = run_cli(tmp_path, "audit", "--refusals", "--since", "2026-12-02", env=database)
    assert later.stdout.splitlines()[1:] == ["0 refused attempt row(s) since 2026-12-02 00:00 UTC"]
    wrong = run_cli(tmp_path, "audit", "--since", "yesterday", env=database)
    assert wrong.returncode == 2 and "expected a date such as 2026-12-01" in wrong.stderr


async def test_a_forged_warning_click_is_the_security_logs_not_the_history(curfew_env: BotEnv) -> None:
    await warn(curfew_env)
    data = keep_button(card_of(curfew_env, DANA), "gpu-ci", "keep_1h")["data"]
    result = await curfew_env.click("warning", data | {"warning": "AAAAAAAAAAAAAAAAAAAAAAAA"}, DANA)
    assert "I sent no such warning card" in json.dumps(result.card)
    [logged] = await curfew_env.store.call(curfew_env.store.security.since)
    assert (logged.actor, logged.kind, logged.action, logged.instance) == (
        DANA.aad_id,
        "forged",
        "warning keep_1h",
        "gpu-ci",
    )
    [history] = await curfew_env.say("history gpu-ci", DANA)
    assert "no such warning" not in json.dumps(history.card)
