"""Requests for compute instances and long keep-ons: the form, the approvers' decision, the creation.

`request an instance` answers with a form; a valid submit records the request and either creates it at
once (an `auto_approve` size) or sends the approvers a card (1:1, or the approvals channel when its
conversation reference is stored). The first decision wins (a compare-and-set on the request's state);
every copy of the card is then refreshed. An approved request is created through the fleet port on the
requester's behalf and followed; the requester hears how it ended. The lifecycle is the pure state
machine in domain/requests.py; every step goes to the audit trail.

Each step is one transaction: the state move, its audit row and the outbox rows for what must follow
(route the card, refresh the copies, tell the requester, create the instance) commit together, and
the outbox worker does the rest (bot/flows/approval_routing.py, bot/flows/creation.py). A database
that fails mid-step leaves the request as it was, with nothing audited and nothing promised.

Who may decide or retry is the gate's rule (bot/conversation/gate.py), checked by the router before
any of these methods runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.cards import requests as rc
from bot.cards.basics import Card, card, paragraph
from bot.flows.approval_routing import CREATE, DECIDED, REFRESH, ROUTE
from bot.flows.creation import Creation
from bot.flows.worker import Handler
from bot.turns import Reply, Turn
from domain import grammar as g
from domain import requests as req
from domain.limits import REASON_MAX
from domain.model import Instance, KeepOn, KeepOnState
from domain.requests import RequestState
from domain.timefmt import format_local
from storage.outbox import Tx
from storage.requests_repo import ComputeRequest

E = req.RequestEvent


class Approvals(Creation):
    """What the request commands and card verbs do (bot/conversation/requests.py registers them)."""

    def handlers(self) -> dict[str, Handler]:
        """The outbox work of requests, for the worker."""
        return self.routing_handlers() | self.creation_handlers()

    # -- the form ------------------------------------------------------------------------------

    async def form(self, turn: Turn, cmd: g.RequestInstance) -> list[Reply]:
        sizes = list(self.rt.settings.requests.sizes)
        workspaces = [w.alias for w in self.rt.fleet.workspaces]
        values = {"workspace": workspaces[0] if workspaces else ""}
        values["size"] = rc.preselect(cmd.size_hint, sizes) or (sizes[0] if sizes else "")
        rules = await self.rules(turn.user)
        if isinstance(rules, str):
            return [Reply(text=rules)]
        errors = {"quota": quota} if (quota := req.quota_error(rules)) else {}
        hint = cmd.size_hint or ""
        if hint.lower().startswith("standard_") and values["size"].lower() != hint.lower():
            errors["size"] = f"{hint} is not a size you can request; choose one of these."
        return [Reply(card=await self.form_card(values, errors))]

    async def submit(self, turn: Turn, value: Mapping[str, Any]) -> Card:
        form = _read_form(value)
        rules = await self.rules(turn.user)
        if isinstance(rules, str):
            return card(paragraph(rules))
        errors = req.validate(form, rules)
        tenant = turn.tenant_id or self.rt.settings.teams.tenant_id
        if tenant is None:
            errors["workspace"] = "I cannot tell which Azure AD tenant you are in; ask your Curfew admin."
        if errors or tenant is None:
            await self.audit(turn.user, form, "submit", "invalid", "; ".join(errors.values()))
            return await self.form_card(_values(form), errors)
        return await self.record(turn, form, tenant)

    async def record(self, turn: Turn, form: req.RequestForm, tenant: str) -> Card:
        """Store a valid request; create it at once or send it to the approvers (one transaction)."""
        fields = (form.workspace, form.name, form.size, form.purpose)
        far = req.end_needs_approver(form, self.end_rule())
        auto = self.rt.settings.requests.sizes[form.size].auto_approve and not far

        def write(tx: Tx) -> ComputeRequest:
            more = {"morning_start": form.morning_start, "end_date": form.ends}
            r = self.add_within(tx, turn, tenant, E.AUTO_APPROVE if auto else E.SUBMIT, *fields, **more)
            tx.audit(self.event(turn.user, r, "submit", r.state, f"{r.size}: {r.purpose}"))
            tx.enqueue(CREATE if auto else ROUTE, {"request": r.id})
            return r

        r = await self.rt.store.atomically(write)
        if auto:
            detail = f"{r.size} needs no approval; I tell you when it is ready."
            return self.outcome(r, "Creating it now", detail)
        detail = (
            f"The approvers of {r.workspace} decide; I tell you what they say. Say `my requests` to check."
        )
        if far:
            limit = self.rt.settings.lifecycle.max_lifetime_days
            detail = f"Its end date is more than {limit} days away, so it needs an approver. " + detail
        return self.outcome(r, f"Request #{r.id} sent", detail)

    async def mine(self, turn: Turn) -> list[Reply]:
        rows = []
        for r in await self.db(self.rt.store.requests.for_requester, turn.user):
            what = (
                f"keep {r.name} ({r.workspace}) on" if r.keep_on_id else f"{r.name} ({r.workspace}), {r.size}"
            )
            rows.append(
                rc.RequestRow(
                    r.id, what, r.state, format_local(r.created_at, turn.zone, turn.now), await self.note(r)
                )
            )
        return [Reply(card=rc.my_requests_card(rows))]

    # -- decisions (the router has passed the gate) ------------------------------------------------

    async def decide(
        self, turn: Turn, r: ComputeRequest, value: Mapping[str, Any], event: req.RequestEvent
    ) -> Card:
        """The first decision wins; with its audit row, the keep-on's settlement and what must follow
        (refresh every copy, tell the requester, create what was approved), in one transaction."""
        comment = str(value.get("comment") or "").strip()[:REASON_MAX] or None  # the box holds REASON_MAX

        def write(tx: Tx) -> tuple[ComputeRequest | None, str | None]:
            moved = self.move_within(
                tx, r.id, event, decided_by=turn.user, decided_at=turn.now, comment=comment
            )
            if moved is None:
                return None, None
            tx.audit(self.event(turn.user, moved, event.value, moved.state, comment or ""))
            notice = self.settle_keep(tx, moved, turn) if moved.keep_on_id is not None else None
            approved = moved.state == RequestState.APPROVED
            tx.enqueue(REFRESH, {"request": moved.id})
            tx.enqueue(DECIDED, {"request": moved.id, "approved": approved})
            if approved and moved.keep_on_id is None:
                tx.enqueue(CREATE, {"request": moved.id})
            return moved, notice

        moved, notice = await self.rt.store.atomically(write)
        if moved is None:
            return await self.already(r.id, event)
        answer = await self.current_card(moved)
        return rc.with_notice(answer, notice) if notice else answer

    async def retry(self, turn: Turn, r: ComputeRequest) -> Card:
        def write(tx: Tx) -> ComputeRequest | None:
            moved = self.move_within(tx, r.id, E.RETRY, error=None)
            if moved is not None:
                tx.audit(self.event(turn.user, moved, "retry", moved.state))
                tx.enqueue(CREATE, {"request": moved.id})
            return moved

        moved = await self.rt.store.atomically(write)
        if moved is None:
            return await self.already(r.id, E.RETRY)
        answer = await self.current_card(moved)
        return rc.with_notice(
            answer, f"Retrying the creation of {r.name}, as {turn.user_name or turn.user} asked."
        )

    async def already(self, request_id: int, event: req.RequestEvent) -> Card:
        """The answer to a click that lost the race: who decided, and the request as it is now."""
        r = await self.db(self.rt.store.requests.get, request_id)
        assert r is not None
        problem = req.transition(RequestState(r.state), event)
        message = problem.message if isinstance(problem, req.TransitionError) else "Nothing changed."
        by = f" {await self.name(r.decided_by)} decided first." if r.decided_by else ""
        return await self.answer(r, message + by)

    def settle_keep(self, tx: Tx, r: ComputeRequest, turn: Turn) -> str | None:
        """Make an approved keep-on active (or a rejected one rejected); a notice if it had ended."""
        assert r.keep_on_id is not None
        state = KeepOnState.ACTIVE if r.state == RequestState.APPROVED else KeepOnState.REJECTED
        done = self.rt.store.keep_ons.decide(r.keep_on_id, state, turn.user, turn.now, session=tx.session)
        if done is None:
            return f"The keep-on of {r.name} had already ended (released or expired); nothing else changed."
        return None

    # -- long keep-ons (bot/flows/keeping.py's KeepApprovals) ---------------------------------------

    def keep_pending(self, tx: Tx, turn: Turn, instance: Instance, keep_on: KeepOn) -> None:
        """In the keep-on's transaction: its request, its audit row and the row that routes the card."""
        tenant = turn.tenant_id or self.rt.settings.teams.tenant_id or ""
        reason = keep_on.reason or ""
        fields = (instance.workspace, instance.name, instance.size, reason)
        r = self.add_within(tx, turn, tenant, E.SUBMIT, *fields, keep_on_id=keep_on.id)
        tx.audit(self.event(turn.user, r, "keep submit", r.state, f"keep-on #{keep_on.id}: {reason}"))
        tx.enqueue(ROUTE, {"request": r.id})

    # -- the scheduler's PendingWork ---------------------------------------------------------------

    async def expire(self, now: datetime) -> int:
        return await self.expire_pending(now)


def _read_form(value: Mapping[str, Any]) -> req.RequestForm:
    def field(key: str) -> str:
        item = value.get(key)
        return item.strip() if isinstance(item, str) else ""

    morning = field("morning_start").lower() == "true" or value.get("morning_start") is True
    return req.RequestForm(
        field("workspace"), field("name"), field("size"), field("purpose"), morning, field("end_date")
    )


def _values(form: req.RequestForm) -> dict[str, str]:
    """The form's fields as the card shows them again."""
    morning = "true" if form.morning_start else "false"
    return {"workspace": form.workspace, "name": form.name, "size": form.size, "purpose": form.purpose} | {
        "morning_start": morning,
        "end_date": form.end_date,
    }
