"""The end of an instance's life at the protocol level: Bot Framework activity JSON through /api/messages,
the connector stand-in as Teams, the unmodified azure-ai-ml SDK against the ARM stand-in (TLS).

An end date set in chat is confirmed with its absolute date; the daily pass sends the owner one reminder
(naming the instance, the date and what is lost), however often it runs; **Delete now** and its
confirmation make the DELETE call, someone else's click on the forwarded card makes none; `retire`
stops the instance at once; a keep-on past the end is cut at the end; after the grace the admins'
**Delete** card deletes it; `start` after the end is refused to the owner and done for an admin."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compute.azureml import AzureMLFleet
from domain.lifecycle import ends_at
from domain.model import InstanceKey
from scheduler.lifecycle import LifePass
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn
from tests.bot_harness import ALEX, DANA, MORGAN, BotEnv, words
from tests.test_idle_arm import arm_chat

MORNING = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thu 3 Dec, 10:00 in Berlin: the daily pass
DELETE_CALL = r"/computes/{}$"


def settings() -> Any:
    return workspace_settings(
        RESEARCH, lifecycle={"grace_days": 14, "delete": "ask", "remind_days": [7, 1]}
    ).model_copy(
        update={
            "workspaces": [
                w.model_copy(update={"admins": [ALEX.aad_id], "approvers": [ALEX.aad_id]})
                for w in workspace_settings(RESEARCH).workspaces
            ]
        }
    )


def cards_to(env: BotEnv, user: Any, before: int) -> list[dict[str, Any]]:
    return [
        r.body["attachments"][0]["content"]
        for r in env.connector.sent()[before:]
        if r.is_activity and r.conversation_id == user.chat_id and r.body.get("attachments")
    ]


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    """A button's Action.Execute (verb and data), wherever it sits in the card (ShowCard included)."""
    stack: list[Any] = [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("title") == title:
                return node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no button {title!r} in {json.dumps(card)[:300]}")


def text_of(card: dict[str, Any] | None) -> str:
    """What a person reads on a card: its text blocks and facts, in order."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                out.append(str(node["text"]))
            if node.get("type") == "FactSet":
                out.extend(f"{f['title']}: {f['value']}" for f in node["facts"])
            for key in ("body", "items", "columns", "card"):
                walk(node.get(key))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(out)


async def daily_pass(env: BotEnv) -> Any:
    """`python app.py lifecycle`'s pass with the service's notifier; the outbox's workers send the cards."""
    rt = env.runtime
    report = await LifePass(rt, env.service.notifier).run(rt.clock(), run_id="lifecycle:test")
    await env.service.bot.drain()
    return report


async def test_end_date_reminder_and_delete_now_through_the_sdk(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(
        arm, RESEARCH, "gpu-ci", owner_object_id=DANA.aad_id, last_started_at=MORNING - timedelta(hours=2)
    )
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        [refused] = await env.say("end gpu-ci on 2026-12-10", MORGAN)
        assert "not yours" in refused.text
        [past] = await env.say("end gpu-ci on 2026-12-01", DANA)
        assert "is in the past" in past.text
        [confirmed] = await env.say("end gpu-ci on 2026-12-10", DANA)
        said = words(confirmed)
        assert said.startswith(
            "gpu-ci (research) ends on Thu 10 Dec 2026: the curfew at Fri 11 Dec 00:00 Europe/Berlin"
        )
        end = await env.store.call(env.store.life.get, InstanceKey("research", "gpu-ci"))
        assert end is not None and end.end == date(2026, 12, 10)

        [status] = await env.say("status", DANA)
        assert "gpu-ci  \nends Thu 10 Dec" in json.dumps(status.card, ensure_ascii=False).replace("\\n", "\n")

        before = len(env.connector.sent())
        report = await daily_pass(env)
        assert [(o.name, o.action, o.outcome) for o in report.outcomes] == [("gpu-ci", "remind", "sent")]
        [reminder] = cards_to(env, DANA, before)
        read = text_of(reminder)
        assert "gpu-ci ends in 7 days, on Thu 10 Dec" in read
        assert "Lost when it is deleted: every file on the instance's own disk" in read
        assert "Kept: your files in the workspace's file share" in read
        assert re.search(
            r"Cost since created: USD \d+\.\d\d for the 2 h Curfew knows it ran, at USD [\d.]+/h", read
        )
        again = await daily_pass(env)  # another run, another replica: the reminder went once
        assert [o.outcome for o in again.outcomes] == ["already sent"] and not cards_to(env, DANA, before + 1)

        delete_now, confirm_title = button(reminder, "Delete now"), "Delete gpu-ci"
        forwarded = await env.click(delete_now["verb"], delete_now["data"], MORGAN)
        assert "not yours" in text_of(forwarded.card)
        confirm = await env.click(delete_now["verb"], delete_now["data"], DANA)
        assert "Delete gpu-ci (research)?" in text_of(confirm.card) and not arm.requests_matching("DELETE")
        yes = button(confirm.card or {}, confirm_title)
        stranger = await env.click(yes["verb"], yes["data"], MORGAN)  # the confirmation, forwarded
        assert "not yours" in text_of(stranger.card) and not arm.requests_matching("DELETE")
        done = await env.click(yes["verb"], yes["data"], DANA)
        assert "Azure ML accepted it" in text_of(done.card)
        [call] = arm.requests_matching("DELETE", DELETE_CALL.format("gpu-ci"))
        assert call.status == 202 and call.query["underlyingResourceAction"] == "Delete"
        assert arm.instance("gpu-ci").state == "Deleting"
        trail = await env.store.call(env.store.audit.for_instance, InstanceKey("research", "gpu-ci"))
        assert ("reminder delete", "deleted") in [(e.action, e.outcome) for e in trail]
        logged = await env.store.call(
            env.store.security.since
        )  # the forwarded card's clicks: the security log's
        refused = {(e.actor, e.action, e.instance) for e in logged}
        assert {
            (MORGAN.aad_id, "life.delete", "gpu-ci"),
            (MORGAN.aad_id, "life.delete.confirm", "gpu-ci"),
        } <= refused


async def test_retire_stops_at_once_and_start_after_the_end_is_for_admins(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(
        arm, RESEARCH, "cpu-ci", owner_object_id=DANA.aad_id, last_started_at=MORNING - timedelta(hours=2)
    )
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        [retired] = await env.say("retire cpu-ci", DANA)
        assert retired.text.startswith(
            "Retired cpu-ci (research): it ended today, Thu 3 Dec. Stopping it now"
        )
        await env.service.bot.drain()
        [stop] = arm.requests_matching("POST", r"/computes/cpu-ci/stop$")
        assert stop.status == 202
        env.clock.advance(minutes=5)
        [owner] = await env.say("start cpu-ci", DANA)
        assert owner.text == "cpu-ci ended on 3 Dec: extend it first (`extend cpu-ci until DATE`)."
        assert not arm.requests_matching("POST", r"/computes/cpu-ci/start$")
        [admin] = await env.say("start cpu-ci", ALEX)
        assert admin.text.startswith("Starting cpu-ci (research).")
        await env.service.bot.drain()
        assert len(arm.requests_matching("POST", r"/computes/cpu-ci/start$")) == 1


async def test_a_keep_on_past_the_end_is_cut_at_the_end(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(
        arm, RESEARCH, "gpu-ci", owner_object_id=DANA.aad_id, last_started_at=MORNING - timedelta(hours=2)
    )
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        await env.say("gpu-ci ends Friday", DANA)  # Fri 4 Dec: it ends at the curfew, Sat 5 Dec 00:00
        [kept] = await env.say("keep gpu-ci on until Dec 6 because training", DANA)
        said = words(kept)
        assert said.startswith("Kept gpu-ci until Sat 5 Dec 00:00 Europe/Berlin")
        assert "gpu-ci ends on Fri 4 Dec, so the keep-on stops there" in said
        extend = [a for a in (kept.card or {})["actions"] if a["title"] == "Extend"]
        assert extend and extend[0]["data"]["command"] == "extend gpu-ci@research until 2026-12-11"
        end = ends_at(env.runtime.settings.policy("research"), date(2026, 12, 4))
        [keep_on] = await env.store.call(
            env.store.keep_ons.in_force, MORNING, [InstanceKey("research", "gpu-ci")]
        )
        assert keep_on.until == end
        # the curfew at the end stops it, the keep-on notwithstanding
        report = await Sweeper(env.runtime).curfew(now=end)
        assert [(o.decision.instance.name, o.kind.value) for o in report.outcomes] == [("gpu-ci", "stopped")]


async def test_after_the_grace_the_admins_delete_card_deletes_it(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(arm, RESEARCH, "proj-ci", owner_object_id=DANA.aad_id, state="Stopped")
    seed_instance(arm, RESEARCH, "keep-ci", owner_object_id=DANA.aad_id, state="Stopped")
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        policy = env.runtime.settings.policy("research")
        for name in ("proj-ci", "keep-ci"):  # ended on Thu 12 Nov: the grace ended on Thu 26 Nov
            key, end = InstanceKey("research", name), date(2026, 11, 12)
            await env.store.call(env.store.life.set_end, key, end, ends_at(policy, end), DANA.aad_id, MORNING)
        before = len(env.connector.sent())
        report = await daily_pass(env)
        assert {(o.name, o.action, o.outcome) for o in report.outcomes} == {
            ("proj-ci", "propose deletion", "sent"),
            ("keep-ci", "propose deletion", "sent"),
        }
        cards = {text_of(c).splitlines()[0]: c for c in cards_to(env, ALEX, before)}
        assert not cards_to(env, DANA, before)
        proposal = cards["Delete proj-ci? Its grace ended on Thu 26 Nov"]
        read = text_of(proposal)
        assert "Instance: proj-ci (research)" in read and "Owner: " in read and "Ended: Thu 12 Nov" in read
        assert "Stopped since: " in read and "Cost since created: " in read
        assert [a["title"] for a in proposal["actions"]] == ["Delete", "Extend 30 days", "Keep"]

        delete = button(proposal, "Delete")
        assert "not yours" in text_of((await env.click(delete["verb"], delete["data"], MORGAN)).card)
        assert not arm.requests_matching("DELETE")
        done = await env.click(delete["verb"], delete["data"], ALEX)
        assert "Azure ML accepted it" in text_of(done.card)
        [call] = arm.requests_matching("DELETE", DELETE_CALL.format("proj-ci"))
        assert call.status == 202 and call.query["underlyingResourceAction"] == "Delete"
        await env.service.bot.drain()  # the owner is told
        told = [
            r.body.get("text", "")
            for r in env.connector.sent()
            if r.is_activity and r.conversation_id == DANA.chat_id
        ]
        assert any("proj-ci (research) was deleted by" in t for t in told)

        keep = button(cards["Delete keep-ci? Its grace ended on Thu 26 Nov"], "Keep")
        assert "Kept keep-ci" in text_of((await env.click(keep["verb"], keep["data"], ALEX)).card)
        env.clock.advance(days=1)
        later = await daily_pass(env)
        assert [(o.name, o.action) for o in later.outcomes] == [("keep-ci", "listed")]
        assert len(arm.requests_matching("DELETE")) == 1


async def test_an_end_date_past_the_limit_waits_for_an_approver(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(arm, RESEARCH, "gpu-ci", owner_object_id=DANA.aad_id)
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        await env.say("end gpu-ci on 2026-12-18", DANA)
        before = len(env.connector.sent())
        [waits] = await env.say("extend gpu-ci until 2027-07-01", DANA)  # 210 days: over 180
        assert "more than 180 days away, so it waits for the approvers of research" in waits.text
        key = InstanceKey("research", "gpu-ci")
        end = await env.store.call(env.store.life.get, key)
        assert end is not None and end.end == date(2026, 12, 18)  # unchanged until an approver says yes
        await env.service.bot.drain()
        [ask] = cards_to(env, ALEX, before)
        assert "Dana Scientist asks that gpu-ci (research) end on Thu 1 Jul 2027" in text_of(ask)
        approve = button(ask, "Approve")
        for someone in (MORGAN, DANA):  # neither an approver, nor the requester's own yes
            answer = await env.click(approve["verb"], approve["data"], someone)
            assert "nothing changed" in text_of(answer.card).lower()
        assert (await env.store.call(env.store.life.get, key)).end == date(2026, 12, 18)  # type: ignore[union-attr]
        done = await env.click(approve["verb"], approve["data"], ALEX)
        assert "Approved: gpu-ci ending on Thu 1 Jul 2027" in text_of(done.card)
        assert (await env.store.call(env.store.life.get, key)).end == date(2027, 7, 1)  # type: ignore[union-attr]
        again = await env.click(approve["verb"], approve["data"], ALEX)
        assert "already decided" in text_of(again.card)
        await env.service.bot.drain()
        told = [
            r.body.get("text", "")
            for r in env.connector.sent()
            if r.is_activity and r.conversation_id == DANA.chat_id
        ]
        assert any(t.startswith("gpu-ci (research) ends on Thu 1 Jul 2027") for t in told)


async def test_a_stale_instance_gets_one_card_a_month_and_retire_ends_it(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    old = seed_instance(arm, RESEARCH, "ci-old", owner_object_id=DANA.aad_id, state="Stopped")
    old.record_operation("Stop", MORNING - timedelta(days=41), "Succeeded", "User")
    async with arm_chat(azure_fleet, sqlite_store, settings(), MORNING) as env:
        [status] = await env.say("status", DANA)
        assert "ci-old  \nstopped 41 days" in json.dumps(status.card, ensure_ascii=False).replace("\\n", "\n")
        before = len(env.connector.sent())
        report = await daily_pass(env)
        assert [(o.name, o.action, o.outcome) for o in report.outcomes] == [("ci-old", "stale", "sent")]
        [asked] = cards_to(env, DANA, before)
        assert text_of(asked).startswith("Do you still need ci-old?\nci-old (research) is stopped 41 days.")
        assert [a["title"] for a in asked["actions"]] == ["Retire", "Keep it"]
        env.clock.advance(days=1)
        assert [o.outcome for o in (await daily_pass(env)).outcomes] == ["already sent"]  # one a month
        retire = button(asked, "Retire")
        assert "not yours" in text_of((await env.click(retire["verb"], retire["data"], MORGAN)).card)
        done = await env.click(retire["verb"], retire["data"], DANA)
        assert text_of(done.card).startswith(
            "Retired ci-old (research): it ended today, Fri 4 Dec. It is Stopped."
        )
        end = await env.store.call(env.store.life.get, InstanceKey("research", "ci-old"))
        assert end is not None and end.end == date(2026, 12, 4)
        assert not arm.requests_matching("POST", r"/computes/ci-old/stop$")  # already stopped: no call


async def test_delete_auto_gives_a_last_notice_then_deletes_and_tells_the_owner(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, sqlite_store: Store
) -> None:
    seed_instance(arm, RESEARCH, "proj-ci", owner_object_id=DANA.aad_id, state="Stopped")
    auto = settings().model_copy(
        update={"lifecycle": settings().lifecycle.model_copy(update={"delete": "auto"})}
    )
    async with arm_chat(azure_fleet, sqlite_store, auto, MORNING) as env:
        policy, end = env.runtime.settings.policy("research"), date(2026, 11, 20)  # grace ends Fri 4 Dec
        key = InstanceKey("research", "proj-ci")
        await env.store.call(env.store.life.set_end, key, end, ends_at(policy, end), DANA.aad_id, MORNING)
        before = len(env.connector.sent())
        notice = await daily_pass(env)
        assert [(o.action, o.outcome) for o in notice.outcomes] == [("last notice", "sent")]
        [last] = cards_to(env, DANA, before)
        assert text_of(last).startswith("proj-ci is deleted tomorrow\nproj-ci (research) ended on Fri 20 Nov")
        assert not arm.requests_matching("DELETE")
        env.clock.advance(days=1)
        deleted = await daily_pass(env)
        assert [(o.action, o.outcome) for o in deleted.outcomes] == [("delete", "deleted")]
        [call] = arm.requests_matching("DELETE", DELETE_CALL.format("proj-ci"))
        assert call.status == 202 and call.query["underlyingResourceAction"] == "Delete"
        await env.service.bot.drain()
        told = [
            r.body.get("text", "")
            for r in env.connector.sent()
            if r.is_activity and r.conversation_id == DANA.chat_id
        ]
        assert any(t.startswith("proj-ci (research) was deleted: ended on Fri 20 Nov") for t in told)
        trail = await env.store.call(env.store.audit.for_instance, key)
        assert ("lifecycle delete", "deleted") in [(e.action, e.outcome) for e in trail]
