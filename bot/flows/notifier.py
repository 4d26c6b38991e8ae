"""The Teams notifier: warning cards to each owner, 1:1, and a summary of the unreachable to the admins.

Delivery goes through the `Messenger` (stored conversation reference, else a new 1:1 conversation),
which keeps to Teams' rate limits and retries what can be retried. An owner who cannot be reached is
reported back (the Warner audits it); the admins of each affected workspace get one summary.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.cards.basics import card, heading, paragraph
from bot.cards.idle import idle_changed_card
from bot.cards.money import money_card
from bot.cards.warning import WarningView, warning_card
from bot.flows.lifecycle import LifeFlow
from bot.flows.pricing import with_costs
from bot.turns import Messenger, Reply, SendOutcome
from compute.prices import PriceBook
from config.settings import Settings
from domain.idle import IdleNotice
from domain.lifecycle import LifeDecision
from domain.money_report import MoneyView
from domain.people import person
from domain.timefmt import format_local
from scheduler.notify import Delivery, DeliveryResult, OwnerWarning

log = logging.getLogger(__name__)

_DELIVERY = {
    SendOutcome.SENT: Delivery.SENT,
    SendOutcome.UNREACHABLE: Delivery.UNREACHABLE,
    SendOutcome.FAILED: Delivery.FAILED,
}


class TeamsNotifier:
    def __init__(
        self,
        settings: Settings,
        messenger: Messenger,
        clock: Callable[[], datetime],
        prices: PriceBook | None = None,
        names: Callable[[list[str]], Awaitable[dict[str, str]]] | None = None,
        life: LifeFlow | None = None,
    ) -> None:
        """`prices`: to show what each keep option costs on the warning card; `names`: people's
        display names by AAD object id, so the admins' card names the owners it could not warn."""
        self._settings = settings
        self._messenger = messenger
        self._clock = clock
        self._prices = prices
        self._names = names
        self._life = life

    async def warn(self, warnings: Sequence[OwnerWarning]) -> list[DeliveryResult]:
        results = list(await asyncio.gather(*(self._warn_one(w) for w in warnings)))
        unreachable = [
            (w, r) for w, r in zip(warnings, results, strict=True) if r.delivery is not Delivery.SENT
        ]
        if unreachable:
            await self._tell_admins(unreachable)
        return results

    async def tell(self, aad_object_id: str, tenant_id: str | None, text: str) -> DeliveryResult:
        result = await self._messenger.send(aad_object_id, tenant_id, Reply(text=text))
        return DeliveryResult(aad_object_id, _DELIVERY[result.outcome], result.detail)

    async def money(self, aad_object_id: str, tenant_id: str | None, view: MoneyView) -> DeliveryResult:
        result = await self._messenger.send(aad_object_id, tenant_id, Reply(card=money_card(view)))
        return DeliveryResult(aad_object_id, _DELIVERY[result.outcome], result.detail)

    async def idle_changed(
        self, aad_object_id: str, tenant_id: str | None, notices: Sequence[IdleNotice]
    ) -> DeliveryResult:
        result = await self._messenger.send(aad_object_id, tenant_id, Reply(card=idle_changed_card(notices)))
        return DeliveryResult(aad_object_id, _DELIVERY[result.outcome], result.detail)

    async def lifecycle(self, decision: LifeDecision, kind: str, day: date, now: datetime) -> DeliveryResult:
        """Queued in the outbox with its claim in the notice ledger (bot/flows/lifecycle.py)."""
        if self._life is None:
            return DeliveryResult(decision.instance.owner_object_id, Delivery.SKIPPED, "no lifecycle flow")
        return await self._life.notice(decision, kind, day, now)

    async def _warn_one(self, warning: OwnerWarning) -> DeliveryResult:
        if warning.owner_object_id is None:
            return DeliveryResult(None, Delivery.UNREACHABLE, "no owner and no workspace admin to warn")
        if warning.warning_id is None:
            return DeliveryResult(warning.owner_object_id, Delivery.FAILED, "the warning was not recorded")
        zone = self._zone(warning)
        view = WarningView(
            warning.curfew_at, zone, warning.decisions, self._clock(), warning_id=warning.warning_id
        )
        view = await with_costs(view, self._prices, self._settings.policy)
        # one card: a messenger splits what is over Teams' size rule into several, rows whole
        last = await self._messenger.send(
            warning.owner_object_id, warning.tenant_id, Reply(card=warning_card(view))
        )
        return DeliveryResult(warning.owner_object_id, _DELIVERY[last.outcome], last.detail)

    def _zone(self, warning: OwnerWarning) -> ZoneInfo:
        first = warning.decisions[0].instance.workspace if warning.decisions else None
        return self._settings.policy(first).zone if first else ZoneInfo(self._settings.timezone)

    async def _tell_admins(self, unreachable: list[tuple[OwnerWarning, DeliveryResult]]) -> None:
        """One summary per admin: the owners Curfew could not warn, with their instances."""
        lines_for: dict[str, list[str]] = defaultdict(list)
        owners = [w.owner_object_id for w, _ in unreachable if w.owner_object_id]
        names = await self._names(owners) if self._names is not None else {}
        for warning, result in unreachable:
            for d in warning.to_stop:
                line = (
                    f"**{d.instance.name}** ({d.instance.workspace}): owner "
                    f"{person(warning.owner_object_id, names)}: {delivery_words(result)}"
                )
                for admin in self._settings.admins_of(d.instance.workspace):
                    lines_for[admin].append(line)
        when = format_local(unreachable[0][0].curfew_at, self._zone(unreachable[0][0]))
        policy = "still stops them" if self._settings.curfew.stop_unwarned else "leaves them running"
        for admin, lines in lines_for.items():
            summary = card(
                heading(f"{len(lines)} instance(s) whose owner I could not warn"),
                paragraph(f"The curfew at {when} {policy}."),
                *(paragraph(f"- {line}") for line in lines),
            )
            sent = await self._messenger.send(admin, self._settings.teams.tenant_id, Reply(card=summary))
            log.info("unreachable-owner summary to admin %s: %s", admin, sent.outcome.value)


_PLAIN_WORDS = (
    ("MessageWritesBlocked", "Teams blocks messages to this person (they blocked Curfew)"),
    ("BotNotInConversationRoster", "Curfew is not installed for this person in Teams"),
    ("NotFound", "Curfew is not installed for this person in Teams"),
    ("no conversation", "Curfew is not installed for this person in Teams, or they never talked to it"),
    ("no owner", "the instance has no owner and its workspace no admin"),
)


def delivery_words(result: DeliveryResult) -> str:
    """Why a warning did not reach its owner, in plain words (the connector's codes stay in the log)."""
    for code, words in _PLAIN_WORDS:
        if code in result.detail:
            return words
    if result.delivery is Delivery.FAILED:
        return "Teams did not take the message, even after retries"
    return "Teams could not deliver the message"
