"""What Curfew sends and does after a turn about a request: approval cards out to the approvers (1:1,
or the approvals channel) and every copy refreshed, the requester told, the approved instance created
and its provisioning followed, failures offered for retry, and requests nobody decided expired.

Creation goes through the fleet port only (`Fleet.create`, `get_instance`), on the requester's behalf:
the requester's AAD object id and tenant as the assigned user, the configured idle shutdown, and tags
naming the request and its purpose. Provisioning is followed in a background task, never in a turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from bot.cards.basics import Card
from bot.flows.requests import Flow
from bot.turns import Reply, SendOutcome
from compute.port import CreateSpec, FleetError
from domain import requests as req
from domain.model import InstanceState, KeepOnState, MorningStart
from domain.requests import RequestState
from storage.requests_repo import ComputeRequest

log = logging.getLogger(__name__)
E, S = req.RequestEvent, RequestState
FAILED_STATES = frozenset(
    {
        InstanceState.CREATE_FAILED,
        InstanceState.SETUP_FAILED,
        InstanceState.USER_SETUP_FAILED,
        InstanceState.UNUSABLE,
    }
)
ADVICE = {
    "forbidden": "Curfew's Azure identity may not create instances there: an admin must give it the Curfew "
    "role (docs/roles.md), then an approver can retry from the card.",
    "invalid": "Ask again with another name or size, or ask an admin to raise the Azure quota and retry "
    "from the card.",
}
BUSY_ADVICE = "Azure is busy or unreachable right now; an approver can retry from the card in a few minutes."


class ApprovalRouting(Flow):
    """Approval cards out and refreshed, the requester told, creation on their behalf and followed."""

    async def recipients(self, r: ComputeRequest) -> list[str]:
        """The approvals channel when its conversation is stored, else each approver but the requester."""
        channel = self.rt.settings.teams.approvals_channel
        stored = await self.db(self.rt.store.conversations.get, channel) if channel else None
        if channel and stored is not None:
            return [channel]
        return [a for a in self.rt.settings.approvers_of(r.workspace) if a != r.requester_object_id]

    async def route(self, r: ComputeRequest, card: Card) -> None:
        """Send the approval card; remember each copy; tell the requester if nobody got it."""
        targets = await self.recipients(r)
        copies = await self.distribute(r, card, targets)
        outcome = "sent" if copies else "unreachable"
        await self.audit("curfew", r, "route", outcome, f"to {len(copies)} of {len(targets)} recipient(s)")
        saved = await self.remember(r.id, copies)
        if saved is not None and saved.state != r.state:  # decided while the cards were on their way
            await self.refresh(saved)
        if not copies:
            await self.tell(
                r,
                f"I could not reach any approver of {r.workspace} about request #{r.id}, so it waits. Ask "
                "them to open Curfew in Teams, or ask a workspace admin to add approvers.",
            )

    async def distribute(self, r: ComputeRequest, card: Card, targets: Sequence[str]) -> list[dict[str, str]]:
        messenger = self.messenger()
        if messenger is None:
            log.warning("no messenger: request #%s reaches nobody", r.id)
            return []
        copies = []
        for aad in targets:
            result = await messenger.send(aad, r.requester_tenant_id or None, Reply(card=card))
            if result.outcome is SendOutcome.SENT and result.activity_id:
                copies.append({"aad": aad, "activity_id": result.activity_id})
            else:
                log.warning("request #%s card to %s: %s %s", r.id, aad, result.outcome.value, result.detail)
        return copies

    async def remember(self, request_id: int, copies: list[dict[str, str]]) -> ComputeRequest | None:
        """Add the sent copies to the request without changing its state (retried if it moved)."""
        for _ in range(3):
            current = await self.db(self.rt.store.requests.get, request_id)
            if current is None:
                return None
            saved = await self.db(
                self.rt.store.requests.transition,
                request_id,
                [current.state],
                current.state,
                self.rt.clock(),
                cards=[*current.cards, *copies],
            )
            if saved is not None:
                return saved
        return None

    async def refresh(self, r: ComputeRequest) -> None:
        """Rewrite every copy of the approval card to show where the request stands."""
        messenger = self.messenger()
        if messenger is None or not r.cards:
            return
        card = await self.current_card(r)
        for copy in r.cards:
            aad, activity = str(copy["aad"]), str(copy["activity_id"])
            result = await messenger.update(aad, r.requester_tenant_id or None, activity, Reply(card=card))
            if result.outcome is not SendOutcome.SENT:
                log.warning("refresh of #%s for %s: %s %s", r.id, aad, result.outcome.value, result.detail)

    async def tell(self, r: ComputeRequest, message: str) -> None:
        messenger = self.messenger()
        if messenger is None:
            log.info("no messenger to tell %s: %s", r.requester_object_id, message)
            return
        result = await messenger.send(
            r.requester_object_id, r.requester_tenant_id or None, Reply(text=message)
        )
        log.info("told %s about request #%s: %s", r.requester_object_id, r.id, result.outcome.value)

    async def after_decision(self, r: ComputeRequest) -> None:
        """After the first decision: refresh every copy, tell the requester, create what was approved."""
        await self.refresh(r)
        who, said = await self.name(r.decided_by), f": {r.comment}" if r.comment else ""
        approved = r.state == S.APPROVED
        if r.keep_on_id is not None:
            until = (await self.keep_view(r)).until
            verdict = "approved" if approved else "rejected"
            after = "" if approved else " The curfew applies to it again."
            await self.tell(r, f"{who} {verdict} keeping {r.name} on until {until}{said}.{after}")
        elif approved:
            await self.tell(
                r,
                f"{who} approved your request #{r.id} for {r.name} ({r.size}) in {r.workspace}{said}. "
                "I am creating it now and tell you when it is ready.",
            )
            await self.create(r)
        else:
            await self.tell(
                r,
                f"{who} rejected your request #{r.id} for {r.name} in {r.workspace}{said}. "
                "Say `request an instance` to ask again.",
            )

    async def create(self, r: ComputeRequest) -> None:
        """Ask the fleet to create the approved instance for the requester, then follow it."""
        tags = {"curfew-request": str(r.id), "curfew-purpose": r.purpose[:256]}
        minutes = self.rt.settings.requests.idle_shutdown_minutes
        spec = CreateSpec(r.name, r.size, r.requester_object_id, r.requester_tenant_id, minutes, tags)
        try:
            await self.rt.fleet.create(r.workspace, spec)
        except FleetError as error:
            await self.failed(r, f"{error} {ADVICE.get(error.code, BUSY_ADVICE)}")
            return
        except Exception:
            log.exception("creating %s for request #%s failed unexpectedly", r.name, r.id)
            await self.failed(r, f"Something went wrong on my side. {BUSY_ADVICE}")
            return
        moved = await self.move(r.id, E.CREATE)
        if moved is None:
            return
        await self.audit("curfew", moved, "create", moved.state, f"{r.size} for {r.requester_object_id}")
        if r.morning_start:
            wish = MorningStart(r.workspace, r.name, True)
            await self.db(self.rt.store.mornings.set, wish, r.requester_object_id, self.rt.clock())
        await self.follow(moved)

    async def follow(self, r: ComputeRequest) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while loop.time() < deadline:
            await asyncio.sleep(self._poll)
            try:
                current = await self.rt.fleet.get_instance(r.workspace, r.name)
            except FleetError as error:
                log.info("following request #%s: %s", r.id, error)
                continue
            if current.state.is_running or current.state.is_stopped:
                await self.ready(r)
                return
            if current.state in FAILED_STATES:
                await self.failed(
                    r,
                    f"Azure reports {r.name} {current.state.value}. An admin can look at it in ML studio, "
                    "delete it there and retry from the card.",
                )
                return
        await self.audit("curfew", r, "create", "unconfirmed", f"not ready after {self._timeout:.0f} s")
        await self.tell(
            r, f"Azure is still creating {r.name} after {self._timeout / 60:.0f} minutes. Say `status` later."
        )

    async def ready(self, r: ComputeRequest) -> None:
        moved = await self.move(r.id, E.PROVISIONED)
        if moved is None:
            return
        await self.audit("curfew", moved, "create", moved.state)
        link = next((w.studio_url for w in self.rt.fleet.workspaces if w.alias == r.workspace), None)
        where = f" Open it in Azure ML studio: {link}" if link else ""
        await self.tell(
            moved, f"{r.name} is ready in {r.workspace}.{where} Curfew stops it at night like the others."
        )
        await self.refresh(moved)

    async def failed(self, r: ComputeRequest, reason: str) -> None:
        """Record a failed creation, tell the requester, and put Retry in front of who may retry."""
        moved = await self.move(r.id, E.FAIL, error=reason)
        if moved is None:
            return
        await self.audit("curfew", moved, "create", moved.state, reason)
        await self.tell(moved, f"I could not create {r.name} in {r.workspace}: {reason}")
        if moved.cards:
            await self.refresh(moved)
            return
        ws = r.workspace
        deciders = list(dict.fromkeys([*self.rt.settings.approvers_of(ws), *self.rt.settings.admins_of(ws)]))
        copies = await self.distribute(moved, await self.current_card(moved), deciders)
        await self.remember(moved.id, copies)

    async def expire_pending(self, now: datetime | None = None) -> int:
        """Expire the requests pending for `requests.pending_days`, telling each requester; the count.

        One request that fails to expire (storage, Teams) is logged and never stops the others.
        """
        now = now or self.rt.clock()
        days = self.rt.settings.requests.pending_days
        pending = await self.db(self.rt.store.requests.in_states, [S.PENDING.value])
        return sum(
            [await self.expire_one(r, now, days) for r in pending if req.is_expired(r.created_at, now, days)]
        )

    async def expire_one(self, r: ComputeRequest, now: datetime, days: int) -> bool:
        try:
            moved = await self.move(r.id, E.EXPIRE, error=f"nobody decided within {days} days")
            if moved is None:
                return False
            if moved.keep_on_id is not None:
                keep_ons = self.rt.store.keep_ons
                await self.db(keep_ons.decide, moved.keep_on_id, KeepOnState.EXPIRED, "curfew", now)
            await self.audit("curfew", moved, "expire", moved.state, f"pending for {days} days")
            what = (
                f"keeping {r.name} on" if r.keep_on_id else f"request #{r.id} for {r.name} in {r.workspace}"
            )
            await self.tell(
                moved, f"Nobody decided on {what} within {days} days, so it expired. You can ask again."
            )
            await self.refresh(moved)
        except Exception:
            log.exception("expiring request #%s failed", r.id)
            return False
        log.info("request #%s expired after %s days", r.id, days)
        return True
