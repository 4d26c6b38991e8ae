"""What Curfew sends after a turn about a request, as outbox work (bot/flows/worker.py): approval
cards out to the approvers (1:1, or the approvals channel), a card that failed to send sent again,
every copy refreshed, and the requester told of the decision.

Each handler is idempotent: a route run again after a crash skips the recipients whose copy is
already remembered; a refresh rewrites every copy to the request as it stands now.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.cards.basics import Card
from bot.flows.followups import SendLater, enqueue_tell
from bot.flows.requests import Flow
from bot.flows.worker import Finished, Handler, Outcome
from bot.turns import Reply, SendOutcome
from domain import requests as req
from domain.model import KeepOn
from domain.requests import RequestState
from storage.outbox import OutboxItem, Tx
from storage.requests_repo import ComputeRequest

log = logging.getLogger(__name__)
E, S = req.RequestEvent, RequestState
ROUTE, CARD, REFRESH, DECIDED = "request.route", "request.card", "request.refresh", "request.decided"
CREATE, FOLLOW = "request.create", "request.follow"


class ApprovalRouting(Flow):
    """Approval cards out and refreshed, the requester told."""

    def routing_handlers(self) -> dict[str, Handler]:
        return {ROUTE: self.route, CARD: self.resend, REFRESH: self.refresh_item, DECIDED: self.decided}

    async def request_of(self, item: OutboxItem) -> ComputeRequest | None:
        r = await self.db(self.rt.store.requests.get, int(item.payload["request"]))
        return self._found(item, r)

    async def request_and_keep_of(self, item: OutboxItem) -> tuple[ComputeRequest | None, KeepOn | None]:
        """The row's request and, for a keep-on's, the keep-on its card shows (one thread hop)."""
        r, keep = await self.db(self.read_with_keep, int(item.payload["request"]))
        return self._found(item, r), keep

    @staticmethod
    def _found(item: OutboxItem, r: ComputeRequest | None) -> ComputeRequest | None:
        if r is None:
            log.warning("outbox row %s names request #%s, which does not exist", item.id, item.payload)
        return r

    async def recipients(self, r: ComputeRequest) -> list[str]:
        """The approvals channel when its conversation is stored, else each approver but the requester."""
        channel = self.rt.settings.teams.approvals_channel
        stored = await self.db(self.rt.store.conversations.get, channel) if channel else None
        if channel and stored is not None:
            return [channel]
        return [a for a in self.rt.settings.approvers_of(r.workspace) if a != r.requester_object_id]

    def deciders(self, r: ComputeRequest) -> list[str]:
        """Who may retry a failed creation: the workspace's approvers and admins."""
        ws = r.workspace
        return list(dict.fromkeys([*self.rt.settings.approvers_of(ws), *self.rt.settings.admins_of(ws)]))

    async def route(self, item: OutboxItem) -> Outcome:
        """Send the request's card to each recipient without a copy yet; remember the copies; a send
        Teams could not take now becomes its own row, retried; tell the requester if nobody got it."""
        r, keep = await self.request_and_keep_of(item)
        if r is None:
            return None
        targets = self.deciders(r) if item.payload.get("to") == "deciders" else await self.recipients(r)
        have = {str(c["aad"]) for c in r.cards}
        todo = [t for t in targets if t not in have]
        copies, retry = await self.distribute(r, await self.current_card(r, keep), todo)
        reached = len(have & set(targets)) + len(copies)

        def write(tx: Tx) -> None:
            saved = self.remember_within(tx, r, copies)
            outcome = "sent" if reached else ("retrying" if retry else "unreachable")
            tx.audit(
                self.event("curfew", r, "route", outcome, f"to {reached} of {len(targets)} recipient(s)")
            )
            for aad in retry:
                tx.enqueue(CARD, {"request": r.id, "aad": aad})
            if saved is not None and saved.state != r.state:  # decided while the cards were on their way
                tx.enqueue(REFRESH, {"request": r.id})
            if not reached and not retry and item.payload.get("to") != "deciders":
                enqueue_tell(tx, r.requester_object_id, r.requester_tenant_id or None, self.nobody(r))
            tx.complete(item)

        await self.rt.store.atomically(write)
        return Finished()

    def nobody(self, r: ComputeRequest) -> str:
        return (
            f"I could not reach any approver of {r.workspace} about request #{r.id}, so it waits. Ask "
            "them to open Curfew in Teams, or ask a workspace admin to add approvers."
        )

    async def resend(self, item: OutboxItem) -> Outcome:
        """A card that failed to send, sent again to one recipient (the worker backs off between tries)."""
        r, keep = await self.request_and_keep_of(item)
        aad = str(item.payload["aad"])
        if r is None or aad in {str(c["aad"]) for c in r.cards}:
            return None
        messenger = self.messenger()
        if messenger is None:
            return None
        card = await self.current_card(r, keep)
        result = await messenger.send(aad, r.requester_tenant_id or None, Reply(card=card))
        if result.outcome is SendOutcome.FAILED:
            raise SendLater(result.detail or "Teams did not take the card")
        if result.outcome is not SendOutcome.SENT or not result.activity_id:
            log.warning("request #%s card to %s: %s %s", r.id, aad, result.outcome.value, result.detail)
            return None
        copy = {"aad": aad, "activity_id": result.activity_id}

        def write(tx: Tx) -> None:
            self.remember_within(tx, r, [copy])
            tx.audit(self.event("curfew", r, "route", "sent", "to 1 recipient, on a retry"))
            tx.complete(item)

        await self.rt.store.atomically(write)
        return Finished()

    async def distribute(
        self, r: ComputeRequest, card: Card, targets: Sequence[str]
    ) -> tuple[list[dict[str, str]], list[str]]:
        """The copies sent, and the recipients whose send failed for now (worth a retry)."""
        messenger = self.messenger()
        if messenger is None:
            log.warning("no messenger: request #%s reaches nobody", r.id)
            return [], []
        copies, retry = [], []
        for aad in targets:
            result = await messenger.send(aad, r.requester_tenant_id or None, Reply(card=card))
            if result.outcome is SendOutcome.SENT and result.activity_id:
                copies.append({"aad": aad, "activity_id": result.activity_id})
                continue
            log.warning("request #%s card to %s: %s %s", r.id, aad, result.outcome.value, result.detail)
            if result.outcome is SendOutcome.FAILED:
                retry.append(aad)
        return copies, retry

    def remember_within(
        self, tx: Tx, r: ComputeRequest, copies: list[dict[str, str]]
    ) -> ComputeRequest | None:
        """Add the sent copies to the request without changing its state: to `r` (read before the
        cards went out) when nothing changed it since, else to the request as it stands now."""
        requests = self.rt.store.requests
        if copies and (saved := requests.add_cards(r, copies, self.rt.clock(), session=tx.session)):
            return saved
        current = requests.get(r.id, session=tx.session)
        if current is None or not copies:
            return current
        cards = [*current.cards, *copies]
        state = current.state
        return requests.transition(r.id, [state], state, self.rt.clock(), session=tx.session, cards=cards)

    async def refresh_item(self, item: OutboxItem) -> Outcome:
        r = await self.request_of(item)
        if r is not None:
            await self.refresh(r)
        return None

    async def refresh(self, r: ComputeRequest) -> None:
        """Rewrite every copy of the approval card to show where the request stands."""
        messenger = self.messenger()
        if messenger is None or not r.cards:
            return
        card = await self.current_card(r)
        failed = []
        for copy in r.cards:
            aad, activity = str(copy["aad"]), str(copy["activity_id"])
            result = await messenger.update(aad, r.requester_tenant_id or None, activity, Reply(card=card))
            if result.outcome is not SendOutcome.SENT:
                log.warning("refresh of #%s for %s: %s %s", r.id, aad, result.outcome.value, result.detail)
                failed.append(result)
        if any(f.outcome is SendOutcome.FAILED for f in failed):
            raise SendLater(f"{len(failed)} of {len(r.cards)} card(s) of #{r.id} not refreshed")

    async def decided(self, item: OutboxItem) -> Outcome:
        """Tell the requester what the first decision was (`approved` in the row: the state moves on)."""
        r = await self.request_of(item)
        if r is None:
            return None
        await self.send_text(r, await self.decision_text(r, bool(item.payload["approved"])))
        return None

    async def decision_text(self, r: ComputeRequest, approved: bool) -> str:
        who, said = await self.name(r.decided_by), f": {r.comment}" if r.comment else ""
        if r.keep_on_id is not None:
            until = (await self.keep_view(r)).until
            verdict = "approved" if approved else "rejected"
            after = "" if approved else " The curfew applies to it again."
            return f"{who} {verdict} keeping {r.name} on until {until}{said}.{after}"
        if approved:
            return (
                f"{who} approved your request #{r.id} for {r.name} ({r.size}) in {r.workspace}{said}. "
                "I am creating it now and tell you when it is ready."
            )
        return (
            f"{who} rejected your request #{r.id} for {r.name} in {r.workspace}{said}. "
            "Say `request an instance` to ask again."
        )

    async def send_text(self, r: ComputeRequest, message: str) -> None:
        """Tell the requester now; SendLater when Teams could not take it (the worker retries)."""
        messenger = self.messenger()
        if messenger is None:
            log.info("no messenger to tell %s: %s", r.requester_object_id, message)
            return
        result = await messenger.send(
            r.requester_object_id, r.requester_tenant_id or None, Reply(text=message)
        )
        if result.outcome is SendOutcome.FAILED:
            raise SendLater(result.detail or "Teams did not take the message")
        log.info("told %s about request #%s: %s", r.requester_object_id, r.id, result.outcome.value)
