"""The machinery under bot/flows/approvals.py: state moves, the audit trail, the card for each state.

`Flow` moves a request through the pure lifecycle (domain/requests.py) with the repository's
compare-and-set (inside the caller's transaction, beside the step's audit row), reads the form's
rules, and builds the card that shows a request as it stands. Routing and what follows a decision are
in bot/flows/approval_routing.py, creation in bot/flows/creation.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from bot.cards import requests as rc
from bot.cards.basics import Card
from bot.cards.costs import monthly_text, rate_text
from bot.flows.pricing import size_prices
from bot.turns import Messenger, Turn
from compute.port import FleetError
from compute.prices import PriceBook
from domain import requests as req
from domain.lifecycle import day_text
from domain.model import KeepOn
from domain.requests import RequestState
from domain.timefmt import format_local
from runtime import Runtime
from storage.outbox import Tx
from storage.repositories import AuditEvent
from storage.requests_repo import ComputeRequest

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
S = RequestState


class Flow:
    def __init__(
        self,
        rt: Runtime,
        messenger: Callable[[], Messenger | None],
        *,
        poll_seconds: float = 15.0,
        timeout_seconds: float = 1800.0,
    ) -> None:
        """`messenger` returns the Messenger, or None while Teams is not connected."""
        self.rt = rt
        self.messenger = messenger
        self._poll, self._timeout = poll_seconds, timeout_seconds
        self.names: dict[str, str] = {}
        """Display names of people seen clicking, by AAD object id."""

    # -- storage and audit ---------------------------------------------------------------------

    async def db(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.rt.store.call(fn, *args, **kwargs)

    def move_within(
        self, tx: Tx, request_id: int, event: req.RequestEvent, **values: Any
    ) -> ComputeRequest | None:
        """Apply `event` in the caller's transaction if the request is still in one of its source
        states; None if it was not."""
        states = [s.value for s in req.sources(event)]
        target = req.target(event).value
        requests = self.rt.store.requests
        return requests.transition(request_id, states, target, self.rt.clock(), session=tx.session, **values)

    def event(
        self, actor: str, r: ComputeRequest | req.RequestForm, action: str, outcome: str, reason: str = ""
    ) -> AuditEvent:
        """The audit row for a step of a request."""
        what = f"#{r.id} {reason}".strip() if isinstance(r, ComputeRequest) else reason
        return AuditEvent(
            self.rt.clock(), actor, f"request {action}", outcome, what, r.workspace or None, r.name or None
        )

    async def audit(
        self, actor: str, r: ComputeRequest | req.RequestForm, action: str, outcome: str, reason: str = ""
    ) -> None:
        await self.db(self.rt.store.audit.record, self.event(actor, r, action, outcome, reason))

    def end_rule(self) -> req.EndRule:
        life = self.rt.settings.lifecycle
        today = self.rt.clock().astimezone(ZoneInfo(self.rt.settings.timezone)).date()
        return req.EndRule(today, life.require_end_date, life.max_lifetime_days)

    async def rules(self, user: str) -> req.FormRules | str:
        """What the request form is checked against, or why it cannot be checked now."""
        try:
            instances = await self.rt.fleet.list_instances()
        except FleetError as error:
            return f"I could not check names and instances in Azure: {error} Try again in a minute."
        found = await self.db(self.rt.store.requests.in_states, [s.value for s in req.OPEN])
        settings = self.rt.settings.requests
        return req.form_rules(
            user,
            [(i.workspace, i.name, i.owner_object_id) for i in instances],
            [(r.workspace, r.name, r.requester_object_id) for r in found if r.keep_on_id is None],
            [w.alias for w in self.rt.fleet.workspaces],
            list(settings.sizes),
            self.rt.settings.request_quota,
            self.end_rule(),
        )

    # -- cards -----------------------------------------------------------------------------------

    async def form_card(self, values: Mapping[str, str], errors: Mapping[str, str]) -> Card:
        sizes = [(size, rule.auto_approve) for size, rule in self.rt.settings.requests.sizes.items()]
        workspaces = [w.alias for w in self.rt.fleet.workspaces]
        prices = await size_prices(PriceBook(self.rt.fleet), workspaces, [s for s, _ in sizes])
        life, today = self.rt.settings.lifecycle, self.end_rule().today
        ends = rc.EndField(life.require_end_date, today.isoformat(), life.grace_days)
        return rc.request_form_card(rc.FormView(workspaces, sizes, values, errors, prices, ends))

    def view(self, r: ComputeRequest, instances: Sequence[tuple[str, str, str]] = ()) -> rc.RequestView:
        requester = r.requester_name or r.requester_object_id
        ends = f"{day_text(r.end_date)} {r.end_date.year}" if r.end_date else None
        return rc.RequestView(r.id, requester, r.workspace, r.name, r.size, r.purpose, instances, ends=ends)

    def outcome(self, r: ComputeRequest, headline: str, detail: str = "", *, retry: bool = False) -> Card:
        return rc.request_outcome_card(self.view(r), headline, detail, retry=retry)

    async def approval_card(self, r: ComputeRequest, keep: KeepOn | None = None) -> Card:
        if r.keep_on_id is not None:
            return rc.keep_approval_card(await self.keep_view(r, keep))
        owner = r.requester_object_id
        try:
            instances = await self.rt.fleet.recent_instances(owner=owner)
        except FleetError as error:
            log.warning("approval card for #%s without the requester's instances: %s", r.id, error)
            instances = []
        mine = [
            (i.name, i.size, i.state.value) for i in instances if (i.owner_object_id or "").lower() == owner
        ]
        per_hour, simulated = await PriceBook(self.rt.fleet).per_hour(r.workspace, r.size)
        view = self.view(r, mine)
        price, monthly = rate_text(per_hour, simulated), monthly_text(per_hour, simulated)
        return rc.approval_card(replace(view, price=price, monthly=monthly))

    async def keep_view(self, r: ComputeRequest, keep: KeepOn | None = None) -> rc.KeepView:
        """`keep`: the request's keep-on when the caller read it with the request, else read here."""
        assert r.keep_on_id is not None
        if keep is None or keep.id != r.keep_on_id:
            keep = await self.db(self.rt.store.keep_ons.get, r.keep_on_id)
        zone = self.rt.settings.policy(r.workspace).zone
        now = self.rt.clock()
        until = format_local(keep.until, zone, now) if keep else "unknown"
        meanwhile = format_local(keep.in_force_until or keep.starts_at, zone, now) if keep else "unknown"
        requester = r.requester_name or r.requester_object_id
        return rc.KeepView(r.id, requester, r.workspace, r.name, until, meanwhile, r.purpose)

    async def current_card(self, r: ComputeRequest, keep: KeepOn | None = None) -> Card:
        """The card that shows `r` as it stands: the approval card while it is pending (`keep`: see
        `keep_view`)."""
        if r.state in (S.PENDING, S.REQUESTED):
            return await self.approval_card(r, keep)
        headline = await self.headline(r)
        if r.keep_on_id is not None:
            return rc.keep_decided_card(await self.keep_view(r, keep), headline)
        detail = {
            S.APPROVED: f"Creating {r.name} now.",
            S.CREATING: f"Azure is creating {r.name}.",
            S.READY: f"{r.name} is ready.",
            S.FAILED: f"The creation failed: {r.error}",
        }.get(RequestState(r.state), "")
        return self.outcome(r, headline, detail, retry=r.state == S.FAILED)

    async def headline(self, r: ComputeRequest) -> str:
        if r.state == S.EXPIRED:
            return f"Expired: nobody decided within {self.rt.settings.requests.pending_days} days"
        if r.decided_by is None:
            return "Approved automatically: this size needs no approval"
        return rc.decided_line(r.state != S.REJECTED, await self.name(r.decided_by), r.comment)

    async def answer(self, r: ComputeRequest, notice: str) -> Card:
        return rc.with_notice(await self.current_card(r), notice)

    async def note(self, r: ComputeRequest) -> str:
        """One line for `my requests`."""
        if r.state in (S.REQUESTED, S.PENDING):
            return ""
        if r.state == S.FAILED:
            return r.error or ""
        return await self.headline(r)

    async def name(self, aad: str | None) -> str:
        if aad is None:
            return "nobody"
        if aad in self.names:
            return self.names[aad]
        ref = await self.db(self.rt.store.conversations.get, aad)
        if ref is None or not ref.user_name:
            return aad
        self.names[aad] = ref.user_name
        return ref.user_name

    def saw(self, turn: Turn) -> None:
        """Remember the clicker's display name (Teams' `from.name`) for the cards that name deciders."""
        if turn.inbound.user_name:
            self.names[turn.user] = turn.inbound.user_name

    def read_with_keep(self, request_id: int) -> tuple[ComputeRequest | None, KeepOn | None]:
        """A request and, for a keep-on's request, its keep-on: both in one thread hop (`Store.call`)."""
        store = self.rt.store
        r = store.requests.get(request_id)
        keep = store.keep_ons.get(r.keep_on_id) if r is not None and r.keep_on_id is not None else None
        return r, keep

    async def load(self, value: Mapping[str, Any], keep: bool) -> ComputeRequest | str:
        raw = value.get("request")
        if isinstance(raw, bool) or not str(raw).isdigit():
            return "This button does not say which request it is about, so I did nothing."
        r = await self.db(self.rt.store.requests.get, int(str(raw)))
        if r is None or (r.keep_on_id is not None) != keep:
            return f"I know no such request (#{raw}), so I did nothing."
        return r

    def add_within(
        self, tx: Tx, turn: Turn, tenant: str, event: req.RequestEvent, *fields: str, **more: Any
    ) -> ComputeRequest:
        """Record a new request as `event` (submit, auto-approve) leaves one in state `requested`: one
        INSERT in the state it moves to, not an insert and an update; `fields` are workspace, name, size
        and purpose."""
        if S.REQUESTED not in req.sources(event):
            raise ValueError(f"a new request cannot {event.value}")
        workspace, name, size, purpose = fields
        return self.rt.store.requests.add(
            session=tx.session,
            requester_object_id=turn.user,
            requester_tenant_id=tenant,
            requester_name=turn.inbound.user_name,
            workspace=workspace,
            name=name,
            size=size,
            purpose=purpose,
            state=req.target(event).value,
            created_at=turn.now,
            updated_at=turn.now,
            cards=[],
            **more,
        )
