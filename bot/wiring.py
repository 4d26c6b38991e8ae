"""Put Curfew's Teams parts into a runtime: the chat handler, the messenger, the Teams notifier."""

from __future__ import annotations

from bot.approvals import Approvals  # importing it registers the request commands and card verbs
from bot.chat import CurfewChat
from bot.endpoint import teams_messenger
from bot.followup import FollowUps
from bot.notifier import TeamsNotifier
from compute.prices import PriceBook
from runtime import Runtime


def install_teams(rt: Runtime) -> None:
    """Register the turn handler, background follow-ups and the Teams notifier (idempotent)."""
    if "turn_handler" in rt.extras:
        return
    poll = 2.0 if rt.settings.simulated else 15.0  # the simulated fleet moves in seconds, Azure in minutes
    followups = FollowUps(rt.fleet, rt.store, rt.clock, lambda: teams_messenger(rt), poll_seconds=poll)
    rt.extras["followups"] = followups
    rt.extras["turn_handler"] = CurfewChat(rt, followups)
    prices = PriceBook(rt.fleet)  # the warning card shows what each keep option costs
    rt.extras["notifier"] = TeamsNotifier(rt.settings, teams_messenger(rt), rt.clock, prices)
    rt.extras["approvals"] = Approvals(rt, lambda: teams_messenger(rt), poll_seconds=poll)


async def uninstall_teams(rt: Runtime) -> None:
    followups = rt.extras.get("followups")
    if isinstance(followups, FollowUps):
        await followups.close()
