"""The tenant gate: the first thing every turn passes, before anything is stored or answered.

With `teams.tenant_id` set (required once workspaces are configured), an activity from any other
tenant, or with none (`channelData.tenant.id` is what Teams sends; a Bot Framework token carries no
user tenant), is refused whatever it is: a message, a card click, an install, a conversationUpdate,
a channel message. The sender gets one short line that names nothing of Curfew's (no instance,
workspace, size, price or person), the attempt goes to the security log, and no conversation
reference is stored, so no later card can go there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.adapter import activities as acts
from storage.repositories import StorageError, Store
from storage.security_log import Refused

log = logging.getLogger(__name__)

REFUSAL = "Sorry, I cannot help you here: this app serves another organization."
OTHER_TENANT = "other tenant"


def refused_tenant(activity: Activity, tenant_id: str | None) -> str | None:
    """Why `activity` is not served (None when it is, or when no tenant is configured)."""
    if not tenant_id:
        return None
    tenant = acts.tenant_of(activity)
    if not tenant:
        return "no tenant in channelData"
    if tenant.lower() != tenant_id.lower():
        return "a tenant other than teams.tenant_id"
    return None


class TenantGate:
    def __init__(self, tenant_id: str | None, store: Store, clock: Callable[[], datetime]) -> None:
        self._tenant_id = tenant_id
        self._store = store
        self._clock = clock

    async def refuse(self, turn_context: TurnContext) -> bool:
        """True when the turn was refused (and answered): the caller then does nothing else."""
        activity = turn_context.activity
        reason = refused_tenant(activity, self._tenant_id)
        if reason is None:
            return False
        tenant = acts.tenant_of(activity)
        log.warning("refused a %s activity from %s: %s", activity.type, tenant or "no tenant", reason)
        event = Refused(
            self._clock(), acts.sender_aad_id(activity), tenant, OTHER_TENANT, str(activity.type)[:64], reason
        )
        try:
            await self._store.call(self._store.security.record, event)
        except StorageError as error:
            log.warning("could not write the security log: %s", error)
        await _answer(turn_context)
        return True


async def _answer(turn_context: TurnContext) -> None:
    activity = turn_context.activity
    if activity.type == ActivityTypes.invoke:
        turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
            type=ActivityTypes.invoke_response, value=acts.message_invoke_response(REFUSAL)
        )
        return
    installed = activity.type == ActivityTypes.installation_update and activity.action != "remove"
    added = activity.type == ActivityTypes.conversation_update and bool(activity.members_added)
    if activity.type == ActivityTypes.message or installed or added:
        await turn_context.send_activity(REFUSAL)
