"""Clear answers when Azure is down or refuses, through the unmodified azure-ai-ml SDK against the ARM
stand-in: `stop`, `keep` and `release` answer with Azure's message and what to do, never "something
went wrong"; `status` names the workspace it could not read; a stop Azure refuses after the
acknowledgement is reported to the person with the refused permission and `python app.py doctor`.
On the code before, the chat turn raised and the person read only an apology."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.turns import Inbound, InboundKind, Reply, SendOutcome, SendResult
from runtime import Runtime
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, make_fleet, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn
from wiring import Bot, build_bot

DANA = "00000000-0000-0000-0000-000000000020"
COMPUTES = r"/workspaces/ws-research/computes$"
APOLOGY = "something went wrong"


class Inbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        self.sent.append((aad_object_id, reply.text or ""))
        return SendResult(SendOutcome.SENT, f"a{len(self.sent)}")

    async def update(self, aad: str, tenant: str | None, activity: str, reply: Reply) -> SendResult:
        return SendResult(SendOutcome.SENT, activity)


def chat(arm: ArmStandIn, store: Store, inbox: Inbox) -> Bot:
    settings = workspace_settings(RESEARCH, outbox={"backoff_seconds": 0.01, "idle_seconds": 0.01})
    rt = Runtime(settings, store, make_fleet(arm), lambda: datetime(2026, 11, 29, 14, 0, tzinfo=UTC))
    return build_bot(rt, lambda: inbox, poll_seconds=0.05, timeout_seconds=5, with_requests=False)


async def say(bot: Bot, words: str) -> str:
    inbound = Inbound(InboundKind.MESSAGE, DANA, "Dana", "t", "c", text=words, local_timezone="Europe/Berlin")
    return " ".join(r.text or str(r.card) for r in await bot.conversation.on_message(inbound))


@pytest.fixture
def seeded(arm: ArmStandIn) -> ArmStandIn:
    started = datetime.now(UTC) - timedelta(hours=2)
    seed_instance(arm, RESEARCH, "gpu-ci", state="Running", owner_object_id=DANA, last_started_at=started)
    return arm


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def bot(
    seeded: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store, inbox: Inbox
) -> AsyncIterator[Bot]:
    built = chat(seeded, sqlite_store, inbox)
    yield built
    await built.conversation.rt.fleet.close()


@pytest.mark.parametrize("words", ["stop gpu-ci", "keep gpu-ci for 2 hours", "release gpu-ci"])
async def test_with_azure_unavailable_a_command_says_so_and_what_to_do(
    seeded: ArmStandIn, bot: Bot, sqlite_store: Store, words: str
) -> None:
    seeded.fail_next("GET", COMPUTES, 503, times=50)
    answer = await say(bot, words)
    assert answer.startswith("Azure is not answering: Azure could not be reached for workspace research")
    assert "Nothing changed" in answer and "python app.py doctor" in answer
    assert APOLOGY not in answer.lower()
    assert await sqlite_store.call(sqlite_store.keep_ons.in_force, datetime.now(UTC)) == []


async def test_with_azure_refusing_to_list_a_command_names_the_permission(
    seeded: ArmStandIn, bot: Bot
) -> None:
    seeded.fail_next("GET", COMPUTES, 403, times=50)
    answer = await say(bot, "keep gpu-ci for 2 hours")
    assert answer.startswith("Azure refused: Curfew's identity may not perform ")
    assert "Microsoft.MachineLearningServices/workspaces/computes/read" in answer
    assert "research" in answer and "ask your admin to run `python app.py doctor`" in answer


async def test_status_names_the_workspace_it_could_not_read(seeded: ArmStandIn, bot: Bot) -> None:
    seeded.fail_next("GET", COMPUTES, 503, times=50)
    answer = await say(bot, "status")
    assert "I could not read workspace research just now" in answer
    assert APOLOGY not in answer.lower()


async def test_a_stop_azure_refuses_after_the_acknowledgement_is_reported_with_what_to_do(
    seeded: ArmStandIn, bot: Bot, inbox: Inbox, sqlite_store: Store
) -> None:
    seeded.fail_next("POST", r"/computes/gpu-ci/stop$", 403)
    assert (await say(bot, "stop gpu-ci")).startswith("Stopping gpu-ci (research).")
    await bot.drain()
    [(who, told)] = inbox.sent
    assert who == DANA and told.startswith("I could not stop gpu-ci. Azure refused: ")
    assert "Microsoft.MachineLearningServices/workspaces/computes/stop/action" in told
    assert "python app.py doctor" in told
    assert seeded.instance("gpu-ci").state == "Running"
    trail = await sqlite_store.call(sqlite_store.audit.since, datetime(2026, 1, 1, tzinfo=UTC))
    assert [(e.action, e.outcome) for e in trail] == [("chat stop", "requested"), ("chat stop", "failed")]


async def test_a_warning_card_click_with_azure_unavailable_says_so(seeded: ArmStandIn, bot: Bot) -> None:
    seeded.fail_next("GET", r"/computes/gpu-ci$", 503, times=50)
    value = {"verb": "warning", "choice": "keep_1h", "instance": "gpu-ci", "workspace": "research"}
    value["warning"] = "a-stored-warning-id"  # Azure fails before the warning is looked up
    inbound = Inbound(InboundKind.ACTION, DANA, "Dana", "t", "c", verb="warning", value=value)
    answer = str((await bot.conversation.on_action(inbound)).card)
    assert "I could not read gpu-ci. Azure is not answering: " in answer and "python app.py doctor" in answer
