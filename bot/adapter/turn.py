"""One Teams turn: remember the conversation, ask the `TurnHandler`, send what it answers.

`CurfewActivityHandler` is botbuilder's `ActivityHandler` around Curfew's `TurnHandler`:

- first the tenant gate (bot/adapter/tenant.py): an activity of another tenant, or of none, is
  refused in one line and logged, and nothing below happens for it;
- every inbound activity in a personal chat stores the 1:1 conversation reference (keyed by
  `from.aadObjectId` and the tenant from `channelData`), with the user's name and zone;
- messages become `Inbound(MESSAGE)`; in a channel or group chat only those that @mention the bot
  (mention removed) or carry card data (Action.Submit) reach the handler;
- installationUpdate (add) and conversationUpdate (bot added; user added in a personal chat) become
  `Inbound(INSTALL)` with `first_time` from the store: Teams and the Agents Playground repeat these;
- invoke `adaptiveCard/action` becomes `Inbound(ACTION)`; the card goes back in the invoke response,
  followups are sent as messages after it.

Replies go out through Curfew's own `ConnectorPoster` (bot/adapter/replies.py): the same request as
botbuilder's connector client sends, without its copies, msrest serialization and worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from botbuilder.core import ActivityHandler, BotAdapter, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationReference
from sqlalchemy.exc import IntegrityError

from bot.adapter import activities as acts
from bot.adapter.replies import ConnectorPoster, reply_json
from bot.adapter.teams_size import fit_for_teams, shorten_card
from bot.adapter.tenant import TenantGate
from bot.turns import InboundKind, Reply, TurnHandler
from storage.repositories import ConversationRef, StorageError, Store

log = logging.getLogger(__name__)

FIRST_TIME = "curfew.first_time"
FOLLOWUPS = "curfew.followups"


class CurfewActivityHandler(ActivityHandler):  # type: ignore[misc]
    """Made per request: it holds the `TurnHandler` the endpoint found for this app."""

    def __init__(
        self,
        handler: TurnHandler,
        store: Store,
        clock: Callable[[], datetime],
        approvals_channel: str | None = None,
        tenant_id: str | None = None,
        poster: ConnectorPoster | None = None,
    ) -> None:
        super().__init__()
        self._poster = poster
        self._handler = handler
        self._store = store
        self._clock = clock
        self._approvals_channel = approvals_channel
        self._gate = TenantGate(tenant_id, store, clock)

    async def on_turn(self, turn_context: TurnContext) -> None:
        if await self._gate.refuse(turn_context):  # before anything is stored or answered
            return
        try:
            turn_context.turn_state[FIRST_TIME] = await self._remember(turn_context.activity)
        except StorageError as error:  # the turn still runs: its handler answers what it can
            log.warning("could not store the conversation reference: %s", error)
        await super().on_turn(turn_context)
        followups: Sequence[Reply] = turn_context.turn_state.get(FOLLOWUPS, ())
        await send_replies(turn_context, followups, self._poster)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not _addressed_to_bot(activity):
            log.debug("ignored a %s message without a mention", acts.conversation_type(activity))
            return
        replies = await self._handler.on_message(acts.message_inbound(activity))
        await send_replies(turn_context, replies, self._poster)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._install(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        bot_added = any(member.id == bot_id for member in members_added)
        if bot_added or acts.conversation_type(activity) == acts.PERSONAL:
            await self._install(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != acts.CARD_ACTION_INVOKE:  # botbuilder answers 501 for what it does not know
            answered: InvokeResponse | None = await super().on_invoke_activity(turn_context)
            if answered is None or answered.status >= 500:
                return InvokeResponse(status=400, body={"error": "Curfew does not answer this invoke"})
            return answered
        result = await self._handler.on_action(acts.action_inbound(activity))
        turn_context.turn_state[FOLLOWUPS] = tuple(result.followups)
        answer = acts.card_invoke_response(shorten_card(result.card))
        # Kept where botbuilder keeps a sent invoke response, so that it does not send (deep-copy) it.
        turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
            type=ActivityTypes.invoke_response, value=answer
        )
        return answer

    async def _install(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        first_time = bool(turn_context.turn_state.get(FIRST_TIME))
        replies = await self._handler.on_install(acts.inbound(activity, InboundKind.INSTALL), first_time)
        await send_replies(turn_context, replies, self._poster)

    async def _remember(self, activity: Activity) -> bool:
        """Store the 1:1 reference; True when Curfew had not seen this user in this tenant before."""
        aad, tenant = acts.sender_aad_id(activity), acts.tenant_of(activity)
        if not aad or not tenant:
            return False
        if acts.conversation_type(activity) != acts.PERSONAL:
            await self._remember_approvals_channel(activity, tenant)
            # A channel's reference is no way to reach the user 1:1; the messenger creates that chat.
            return await self._store.call(self._store.conversations.get, aad, tenant) is None
        ref = ConversationRef(
            aad_object_id=aad,
            tenant_id=tenant,
            user_name=acts.sender_name(activity),
            reference=acts.reference_of(activity, tenant),
            local_timezone=acts.local_timezone(activity),
            updated_at=self._clock(),
        )
        return await store_reference(self._store, ref)

    async def _remember_approvals_channel(self, activity: Activity, tenant: str) -> None:
        """Keep the approvals channel's reference (under the channel id), so approval cards can go there."""
        channel = (activity.conversation.id if activity.conversation else "").split(";messageid=")[0]
        if not self._approvals_channel or channel != self._approvals_channel:
            return
        reference = acts.reference_of(activity, tenant)
        reference.setdefault("conversation", {})["id"] = (
            channel  # the channel, not the thread of this message
        )
        ref = ConversationRef(channel, tenant, "approvals channel", reference, None, self._clock())
        await store_reference(self._store, ref)


async def store_reference(store: Store, ref: ConversationRef) -> bool:
    """Upsert a reference; True when the user was new. Safe when two turns race to insert it."""
    if store.conversations.known_unchanged(ref):  # most turns: no database read, no thread hop
        return False
    try:
        return await store.call(store.conversations.upsert, ref)
    except IntegrityError:  # the same install event twice at once: the other one inserted first
        return await store.call(store.conversations.upsert, ref)


def _addressed_to_bot(activity: Activity) -> bool:
    if acts.conversation_type(activity) == acts.PERSONAL:
        return True
    return acts.mentions_bot(activity) or activity.value is not None


async def send_replies(
    turn_context: TurnContext, replies: Iterable[Reply], poster: ConnectorPoster | None = None
) -> list[str | None]:
    """Send (or, with `update_activity_id`, rewrite) each reply in order, each within the size rule
    (a reply too big goes as several messages); the activity ids.

    With a `poster` and the turn's connector client, through the poster; else through botbuilder."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    if poster is not None and client is not None:
        return await _post_replies(turn_context, replies, poster, client)
    ids: list[str | None] = []
    for reply in (part for whole in replies for part in fit_for_teams(whole)):
        activity = acts.reply_activity(reply)
        if reply.update_activity_id:
            response = await turn_context.update_activity(activity)
        else:
            response = await turn_context.send_activity(activity)
        ids.append(response.id if response is not None and response.id else reply.update_activity_id)
    return ids


async def _post_replies(
    turn_context: TurnContext, replies: Iterable[Reply], poster: ConnectorPoster, client: object
) -> list[str | None]:
    reference = TurnContext.get_conversation_reference(turn_context.activity)
    ids: list[str | None] = []
    for reply in (part for whole in replies for part in fit_for_teams(whole)):
        ids.append(await post_reply(reference, reply, poster, client))
        turn_context.responded = True
    return ids


async def post_reply(
    reference: ConversationReference, reply: Reply, poster: ConnectorPoster, client: object
) -> str | None:
    """Send (or rewrite) one reply that fits, addressed by `reference`; its activity id."""
    body = reply_json(reference, reply.text, acts.reply_attachments(reply), reply.update_activity_id)
    return await poster.send(client, body, reply.update_activity_id) or reply.update_activity_id
