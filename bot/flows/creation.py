"""An approved request created and followed, as outbox work; and requests nobody decided, expired.

Creation goes through the fleet port only (`Fleet.create`, `get_instance`), on the requester's behalf:
the requester's AAD object id and tenant as the assigned user, the configured idle shutdown, and tags
naming the request and its purpose. `request.create` first asks Azure whether the instance exists (a
create a dead process got through is not asked twice); once Azure accepted, the request's move to
`creating`, its audit row and the `request.follow` row commit together with the row's completion.
`request.follow` reads the instance every poll until it is ready or failed, and the outcome, its
audit row, the message to the requester and the cards' refresh commit together.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.flows.approval_routing import CREATE, FOLLOW, REFRESH, ROUTE, ApprovalRouting
from bot.flows.followups import enqueue_tell
from bot.flows.worker import Finished, Handler, Later, Outcome
from compute.port import CreateSpec, FleetError, NotFound
from domain import requests as req
from domain.lifecycle import ends_at
from domain.model import InstanceKey, InstanceState, KeepOnState, MorningStart
from domain.requests import RequestState
from storage.outbox import OutboxItem, Tx, wall_clock
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


class Creation(ApprovalRouting):
    def creation_handlers(self) -> dict[str, Handler]:
        return {CREATE: self.create, FOLLOW: self.follow}

    async def create(self, item: OutboxItem) -> Outcome:
        """Ask the fleet to create the approved instance for the requester, unless Azure has it."""
        r = await self.request_of(item)
        if r is None or r.state != S.APPROVED:
            return None  # done before (a row run again), retried, or moved on
        if not await self._exists(r):
            tags = {"curfew-request": str(r.id), "curfew-purpose": r.purpose[:256]}
            if r.end_date is not None:
                tags["curfew-end-date"] = r.end_date.isoformat()
            minutes = self.rt.settings.requests.idle_shutdown_minutes
            spec = CreateSpec(r.name, r.size, r.requester_object_id, r.requester_tenant_id, minutes, tags)
            try:
                await self.rt.fleet.create(r.workspace, spec)
            except FleetError as error:
                return await self.failed(item, r, f"{error} {ADVICE.get(error.code, BUSY_ADVICE)}")
            except Exception:
                log.exception("creating %s for request #%s failed unexpectedly", r.name, r.id)
                return await self.failed(item, r, f"Something went wrong on my side. {BUSY_ADVICE}")
        mornings, life = self.rt.store.mornings, self.rt.store.life

        def write(tx: Tx) -> None:
            moved = self.move_within(tx, r.id, E.CREATE)
            if moved is not None:
                tx.audit(
                    self.event(
                        "curfew", moved, "create", moved.state, f"{r.size} for {r.requester_object_id}"
                    )
                )
                if r.morning_start:
                    wish = MorningStart(r.workspace, r.name, True)
                    mornings.set(wish, r.requester_object_id, self.rt.clock(), session=tx.session)
                if r.end_date is not None:
                    at = ends_at(self.rt.settings.policy(r.workspace), r.end_date)
                    key = InstanceKey(r.workspace, r.name)
                    life.set_end(
                        key, r.end_date, at, r.requester_object_id, self.rt.clock(), session=tx.session
                    )
                tx.enqueue(FOLLOW, {"request": r.id}, delay=self._poll)
            tx.complete(item)

        await self.rt.store.atomically(write)
        return Finished()

    async def _exists(self, r: ComputeRequest) -> bool:
        try:
            await self.rt.fleet.get_instance(r.workspace, r.name)
        except NotFound:
            return False
        except FleetError as error:
            log.info("cannot tell whether %s exists (%s); asking Azure to create it", r.name, error)
            return False
        log.warning("request #%s: %s exists already (a create got through before a restart)", r.id, r.name)
        return True

    async def follow(self, item: OutboxItem) -> Outcome:
        r = await self.request_of(item)
        if r is None or r.state != S.CREATING:
            return None
        try:
            current = await self.rt.fleet.get_instance(r.workspace, r.name)
        except FleetError as error:
            log.info("following request #%s: %s", r.id, error)
            current = None
        if current is not None and (current.state.is_running or current.state.is_stopped):
            return await self.ready(item, r)
        if current is not None and current.state in FAILED_STATES:
            reason = (
                f"Azure reports {r.name} {current.state.value}. An admin can look at it in ML studio, "
                "delete it there and retry from the card."
            )
            return await self.failed(item, r, reason)
        if wall_clock() < item.created_at + timedelta(seconds=self._timeout):
            return Later(self._poll)
        text = f"Azure is still creating {r.name} after {self._timeout / 60:.0f} minutes. Say `status` later."

        def write(tx: Tx) -> None:
            tx.audit(
                self.event("curfew", r, "create", "unconfirmed", f"not ready after {self._timeout:.0f} s")
            )
            enqueue_tell(tx, r.requester_object_id, r.requester_tenant_id or None, text)
            tx.complete(item, "unconfirmed")

        await self.rt.store.atomically(write)
        return Finished()

    async def ready(self, item: OutboxItem, r: ComputeRequest) -> Outcome:
        link = next((w.studio_url for w in self.rt.fleet.workspaces if w.alias == r.workspace), None)
        where = f" Open it in Azure ML studio: {link}" if link else ""
        text = f"{r.name} is ready in {r.workspace}.{where} Curfew stops it at night like the others."

        def write(tx: Tx) -> None:
            moved = self.move_within(tx, r.id, E.PROVISIONED)
            if moved is not None:
                tx.audit(self.event("curfew", moved, "create", moved.state))
                enqueue_tell(tx, r.requester_object_id, r.requester_tenant_id or None, text)
                tx.enqueue(REFRESH, {"request": r.id})
            tx.complete(item)

        await self.rt.store.atomically(write)
        return Finished()

    async def failed(self, item: OutboxItem, r: ComputeRequest, reason: str) -> Outcome:
        """Record a failed creation, tell the requester, and put Retry in front of who may retry."""

        def write(tx: Tx) -> None:
            moved = self.move_within(tx, r.id, E.FAIL, error=reason)
            if moved is not None:
                tx.audit(self.event("curfew", moved, "create", moved.state, reason))
                text = f"I could not create {r.name} in {r.workspace}: {reason}"
                enqueue_tell(tx, r.requester_object_id, r.requester_tenant_id or None, text)
                if moved.cards:
                    tx.enqueue(REFRESH, {"request": r.id})
                else:
                    tx.enqueue(ROUTE, {"request": r.id, "to": "deciders"})
            tx.complete(item, "failed")

        await self.rt.store.atomically(write)
        return Finished()

    async def expire_pending(self, now: datetime | None = None) -> int:
        """Expire the requests pending for `requests.pending_days`, telling each requester; the count.

        One request that fails to expire (storage) is logged and never stops the others.
        """
        now = now or self.rt.clock()
        days = self.rt.settings.requests.pending_days
        pending = await self.db(self.rt.store.requests.in_states, [S.PENDING.value])
        return sum(
            [await self.expire_one(r, now, days) for r in pending if req.is_expired(r.created_at, now, days)]
        )

    async def expire_one(self, r: ComputeRequest, now: datetime, days: int) -> bool:
        """The move, the keep-on's end, the audit row, the message and the refresh: one transaction."""
        keep_ons = self.rt.store.keep_ons
        what = f"keeping {r.name} on" if r.keep_on_id else f"request #{r.id} for {r.name} in {r.workspace}"
        text = f"Nobody decided on {what} within {days} days, so it expired. You can ask again."

        def write(tx: Tx) -> bool:
            moved = self.move_within(tx, r.id, E.EXPIRE, error=f"nobody decided within {days} days")
            if moved is None:
                return False
            if moved.keep_on_id is not None:
                keep_ons.decide(moved.keep_on_id, KeepOnState.EXPIRED, "curfew", now, session=tx.session)
            tx.audit(self.event("curfew", moved, "expire", moved.state, f"pending for {days} days"))
            enqueue_tell(tx, r.requester_object_id, r.requester_tenant_id or None, text)
            tx.enqueue(REFRESH, {"request": r.id})
            return True

        try:
            expired = await self.rt.store.atomically(write)
        except Exception:
            log.exception("expiring request #%s failed", r.id)
            return False
        if expired:
            log.info("request #%s expired after %s days", r.id, days)
        return expired
