"""After a restart: finish approved requests whose creation a dead process left half-way.

An approved request (creation maybe not asked yet) or one being created is taken up once across
replicas (a run-ledger claim per request), then created if Azure does not have it yet and followed
until it is ready or failed, exactly as after a fresh approval.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.flows.approval_routing import ApprovalRouting
from bot.flows.followups import FollowUps
from compute.port import NotFound
from domain.requests import RequestEvent, RequestState
from storage.requests_repo import ComputeRequest

log = logging.getLogger(__name__)


async def resume_requests(approvals: ApprovalRouting, followups: FollowUps, owner: str, now: datetime) -> int:
    """Take up every unfinished creation in the background; how many this process took."""
    rt = approvals.rt
    states = [RequestState.APPROVED.value, RequestState.CREATING.value]
    taken = 0
    for r in await rt.store.call(rt.store.requests.in_states, states):
        if r.keep_on_id is not None:
            continue
        claim = await rt.store.call(rt.store.runs.claim, f"request:{r.id}", r.created_at, owner, now)
        if claim is None:
            continue
        log.warning("resuming request #%s (%s), left %s by a stopped process", r.id, r.name, r.state)
        followups.spawn(approvals.guarded(_resume(approvals, r)))
        taken += 1
    return taken


async def _resume(approvals: ApprovalRouting, r: ComputeRequest) -> None:
    if r.state == RequestState.CREATING.value:
        await approvals.follow(r)
        return
    try:
        await approvals.rt.fleet.get_instance(r.workspace, r.name)
    except NotFound:
        await approvals.create(r)  # Azure never got the creation: ask now
        return
    moved = await approvals.move(r.id, RequestEvent.CREATE)  # it exists: the creation got through
    if moved is not None:
        await approvals.follow(moved)
