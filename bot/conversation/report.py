"""`report [week|month] [WORKSPACE]` in chat: what the curfew saved and what keep-ons cost.

A workspace admin sees the workspaces they administer (or the one named); anyone else sees their own
instances. The card is the digest's (bot/cards/money.py), for the last 7 or 30 days up to now.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.cards.money import money_card
from bot.conversation.gate import Acts, is_admin
from bot.conversation.router import Routes
from bot.turns import Reply, Turn
from domain import grammar as g
from runtime import Runtime
from scheduler.digest import Audience, MoneyReports, period_for


def audience_for(rt: Runtime, user: str, workspace: str | None) -> Audience | str:
    """Whose money `user` may see, or why not."""
    known = [w.alias for w in rt.fleet.workspaces]
    if workspace is not None and workspace not in known:
        return f"I know no workspace {workspace}; the workspaces are {', '.join(known) or 'none'}."
    wanted = [workspace] if workspace else known
    administered = [a for a in wanted if is_admin(rt.settings, user, a)]
    if administered:
        return Audience(frozenset(administered))
    return Audience(frozenset(wanted), owner=user)


async def report_replies(rt: Runtime, user: str, now: datetime, zone: ZoneInfo, cmd: g.Report) -> list[Reply]:
    audience = audience_for(rt, user, cmd.workspace)
    if isinstance(audience, str):
        return [Reply(text=audience)]
    period = period_for(cmd.period, now, zone)
    if audience.owner is None:
        title = f"Curfew's money, {period.label}: {', '.join(sorted(audience.workspaces or ()))}"
    else:
        title = f"Your instances' money, {period.label}"
    reports = MoneyReports(rt)
    await reports.ledger.refresh(now)
    view = await reports.view(title, period, now, audience)
    return [Reply(card=money_card(view))]


def register(routes: Routes, rt: Runtime) -> None:
    async def report(turn: Turn, cmd: g.Report, _: None) -> list[Reply]:
        return await report_replies(rt, turn.user, turn.now, turn.zone, cmd)

    routes.command(g.Report, acts_on=Acts.NOTHING, handler=report)
