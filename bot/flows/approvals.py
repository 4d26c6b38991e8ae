"""Requests for compute instances and long keep-ons: the form, the approvers' decision, the creation.

`request an instance` answers with a form; a valid submit records the request and either creates it at
once (an `auto_approve` size) or sends the approvers a card (1:1, or the approvals channel when its
conversation reference is stored). The first decision wins (a compare-and-set on the request's state);
every copy of the card is then refreshed. An approved request is created through the fleet port on the
requester's behalf and followed in the background; the requester hears how it ended. The lifecycle is
the pure state machine in domain/requests.py; every step goes to the audit trail.

Who may decide or retry is the gate's rule (bot/conversation/gate.py), checked by the router before
any of these methods runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.cards import requests as rc
from bot.cards.basics import Card, card, paragraph
from bot.flows.approval_routing import ApprovalRouting
from bot.flows.followups import FollowUps
from bot.flows.resume import resume_requests
from bot.turns import Messenger, Reply, Turn
from domain import grammar as g
from domain import requests as req
from domain.model import Instance, KeepOn, KeepOnState
from domain.requests import RequestState
from domain.timefmt import format_local
from runtime import Runtime
from storage.requests_repo import ComputeRequest

E = req.RequestEvent


class Approvals(ApprovalRouting):
    """What the request commands and card verbs do (bot/conversation/requests.py registers them)."""

    def __init__(
        self,
        rt: Runtime,
        messenger: Callable[[], Messenger | None],
        followups: FollowUps,
        *,
        poll_seconds: float = 15.0,
        timeout_seconds: float = 1800.0,
    ) -> None:
        super().__init__(rt, messenger, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
        self.followups = followups

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
        """Store a valid request; create it at once or send it to the approvers."""
        fields = (form.workspace, form.name, form.size, form.purpose)
        added = await self.add(turn, tenant, *fields, morning_start=form.morning_start)
        auto = self.rt.settings.requests.sizes[form.size].auto_approve
        r = await self.move(added.id, E.AUTO_APPROVE if auto else E.SUBMIT)
        assert r is not None
        await self.audit(turn.user, r, "submit", r.state, f"{r.size}: {r.purpose}")
        if auto:
            self.followups.spawn(self.guarded(self.create(r)))
            detail = f"{r.size} needs no approval; I tell you when it is ready."
            return self.outcome(r, "Creating it now", detail)
        self.followups.spawn(self.guarded(self.route(r, await self.approval_card(r))))
        detail = (
            f"The approvers of {r.workspace} decide; I tell you what they say. Say `my requests` to check."
        )
        return self.outcome(r, f"Request #{r.id} sent", detail)

    async def mine(self, turn: Turn) -> list[Reply]:
        rows = []
        for r in await self.db(self.rt.store.requests.for_requester, turn.user):
            what = (
                f"keep {r.name} ({r.workspace}) on" if r.keep_on_id else f"{r.name} ({r.workspace}), {r.size}"
            )
            rows.append(
                rc.RequestRow(r.id, what, r.state, format_local(r.created_at, turn.zone), await self.note(r))
            )
        return [Reply(card=rc.my_requests_card(rows))]

    # -- decisions (the router has passed the gate) ------------------------------------------------

    async def decide(
        self, turn: Turn, r: ComputeRequest, value: Mapping[str, Any], event: req.RequestEvent
    ) -> Card:
        comment = str(value.get("comment") or "").strip()[:500] or None
        moved = await self.move(r.id, event, decided_by=turn.user, decided_at=turn.now, comment=comment)
        if moved is None:
            return await self.already(r.id, event)
        await self.audit(turn.user, moved, event.value, moved.state, comment or "")
        notice = await self.settle_keep(moved, turn) if moved.keep_on_id is not None else None
        self.followups.spawn(self.guarded(self.after_decision(moved)))
        answer = await self.current_card(moved)
        return rc.with_notice(answer, notice) if notice else answer

    async def retry(self, turn: Turn, r: ComputeRequest) -> Card:
        moved = await self.move(r.id, E.RETRY, error=None)
        if moved is None:
            return await self.already(r.id, E.RETRY)
        await self.audit(turn.user, moved, "retry", moved.state)
        self.followups.spawn(self.guarded(self.create(moved)))
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

    async def settle_keep(self, r: ComputeRequest, turn: Turn) -> str | None:
        """Make an approved keep-on active (or a rejected one rejected); a notice if it had ended."""
        assert r.keep_on_id is not None
        state = KeepOnState.ACTIVE if r.state == RequestState.APPROVED else KeepOnState.REJECTED
        done = await self.db(self.rt.store.keep_ons.decide, r.keep_on_id, state, turn.user, turn.now)
        if done is None:
            return f"The keep-on of {r.name} had already ended (released or expired); nothing else changed."
        return None

    # -- long keep-ons (bot/flows/keeping.py's KeepApprovals) ---------------------------------------

    async def keep_pending(self, turn: Turn, instance: Instance, keep_on: KeepOn) -> None:
        tenant = turn.tenant_id or self.rt.settings.teams.tenant_id or ""
        reason = keep_on.reason or ""
        fields = (instance.workspace, instance.name, instance.size, reason)
        added = await self.add(turn, tenant, *fields, keep_on_id=keep_on.id)
        r = await self.move(added.id, E.SUBMIT)
        assert r is not None
        await self.audit(turn.user, r, "keep submit", r.state, f"keep-on #{keep_on.id}: {reason}")
        self.followups.spawn(self.guarded(self.route(r, await self.approval_card(r))))

    # -- the scheduler's PendingWork ---------------------------------------------------------------

    async def expire(self, now: datetime) -> int:
        return await self.expire_pending(now)

    async def resume(self, owner: str, now: datetime) -> int:
        return await resume_requests(self, self.followups, owner, now)


def _read_form(value: Mapping[str, Any]) -> req.RequestForm:
    def field(key: str) -> str:
        item = value.get(key)
        return item.strip() if isinstance(item, str) else ""

    morning = field("morning_start").lower() == "true" or value.get("morning_start") is True
    return req.RequestForm(field("workspace"), field("name"), field("size"), field("purpose"), morning)


def _values(form: req.RequestForm) -> dict[str, str]:
    """The form's fields as the card shows them again."""
    morning = "true" if form.morning_start else "false"
    return {"workspace": form.workspace, "name": form.name, "size": form.size, "purpose": form.purpose} | {
        "morning_start": morning
    }
