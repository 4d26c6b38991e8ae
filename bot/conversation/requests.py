"""Request commands and card verbs: `request an instance`, `my requests`, the form's Send, and the
approvers' Approve/Reject/Retry buttons. The router's gate checks deciders and retriers; the work is
bot/flows/approvals.py's. Without an approvals flow wired in, each answers that requests are off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.cards import requests as rc
from bot.cards.basics import Card, card, paragraph
from bot.conversation.gate import Acts, Subject
from bot.conversation.router import Locate, Routes, VerbHandler, text
from bot.flows.approvals import Approvals
from bot.turns import Reply, Turn
from domain import grammar as g
from domain import requests as req
from storage.requests_repo import ComputeRequest

NOT_SET_UP = "Requests for compute instances are not switched on in this Curfew."
E = req.RequestEvent
DECISIONS = {
    rc.APPROVE: (E.APPROVE, False),
    rc.REJECT: (E.REJECT, False),
    rc.KEEP_APPROVE: (E.APPROVE, True),
    rc.KEEP_REJECT: (E.REJECT, True),
}


def register(routes: Routes, approvals: Approvals | None) -> None:
    if approvals is None:
        _register_off(routes)
        return
    flow = approvals

    async def request(turn: Turn, cmd: g.RequestInstance, _: None) -> list[Reply]:
        return await flow.form(turn, cmd)

    async def mine(turn: Turn, _: g.MyRequests, __: None) -> list[Reply]:
        return await flow.mine(turn)

    async def submit(turn: Turn, value: Mapping[str, Any], _: None) -> Card:
        return await flow.submit(turn, value)

    async def refuse(turn: Turn, subject: Subject | None, message: str) -> Card:
        if isinstance(subject, ComputeRequest):
            return await flow.answer(subject, message)
        return card(paragraph(message))

    async def retry(turn: Turn, value: Mapping[str, Any], r: ComputeRequest) -> Card:
        return await flow.retry(turn, r)

    routes.command(g.RequestInstance, acts_on=Acts.NOTHING, handler=request)
    routes.command(g.MyRequests, acts_on=Acts.NOTHING, handler=mine)
    routes.verb(rc.SUBMIT, acts_on=Acts.NOTHING, handler=submit)
    routes.verb(
        rc.RETRY,
        acts_on=Acts.REQUEST_RETRY,
        locate=_locator(flow, keep=False),
        handler=retry,
        refuse=refuse,
        audit_as=lambda _: "request retry",
    )
    for verb, (event, keep) in DECISIONS.items():
        routes.verb(
            verb,
            acts_on=Acts.REQUEST_DECISION,
            locate=_locator(flow, keep),
            handler=_deciding(flow, event),
            refuse=refuse,
            audit_as=_audited_as(event),
        )


def _locator(flow: Approvals, keep: bool) -> Locate:
    async def locate(turn: Turn, value: Mapping[str, Any]) -> Subject | str:
        flow.saw(turn)
        return await flow.load(value, keep)

    return locate


def _audited_as(event: req.RequestEvent) -> Callable[[Mapping[str, Any]], str]:
    return lambda _: f"request {event.value}"


def _deciding(flow: Approvals, event: req.RequestEvent) -> VerbHandler:
    async def run(turn: Turn, value: Mapping[str, Any], r: ComputeRequest) -> Card:
        return await flow.decide(turn, r, value, event)

    return run


def _register_off(routes: Routes) -> None:
    async def off(turn: Turn, _: Any, __: None) -> list[Reply]:
        return text(NOT_SET_UP)

    async def off_card(turn: Turn, _: Mapping[str, Any], __: None) -> Card:
        return card(paragraph(NOT_SET_UP))

    routes.command(g.RequestInstance, g.MyRequests, acts_on=Acts.NOTHING, handler=off)
    for verb in (rc.SUBMIT, rc.RETRY, *DECISIONS):
        routes.verb(verb, acts_on=Acts.NOTHING, handler=off_card)
