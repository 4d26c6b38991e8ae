"""Reading Teams activities and writing replies: botbuilder types in, Curfew's values out.

Pure functions over botbuilder's schema objects (no I/O). Facts they rely on (botbuilder 4.17.1):

- `activity.conversation.tenant_id` is always None (the schema maps it to `tenantID`, Teams sends
  `tenantId`); the tenant is read from `channelData.tenant.id`.
- `localTimezone` is mapped by the schema (`activity.local_timezone`); the `clientInfo` entity also
  carries `timezone` (in `entity.additional_properties`), used when the field is missing. Either is
  any string a client sends: only a known IANA zone is taken (issue 12).
- Mention entities keep `text` and `mentioned` in `additional_properties`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.adapter.replies import reference_json
from bot.turns import Inbound, InboundKind, Reply
from domain.grammar_text import MAX_MESSAGE_CHARS
from domain.limits import bounded_name, known_zone, shown

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
PERSONAL = "personal"
CARD_ACTION_INVOKE = "adaptiveCard/action"


def tenant_of(activity: Activity) -> str | None:
    """The tenant from `channelData.tenant.id` (conversation.tenantId as a fallback)."""
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = channel_data.get("tenant") or {}
    if isinstance(tenant, dict) and tenant.get("id"):
        return str(tenant["id"])
    extra = getattr(activity.conversation, "additional_properties", None) or {}
    value = extra.get("tenantId")
    return str(value) if value else None


def sender_aad_id(activity: Activity) -> str | None:
    """`from.aadObjectId`: the only identity Curfew trusts."""
    sender = activity.from_property
    return str(sender.aad_object_id) if sender is not None and sender.aad_object_id else None


def sender_name(activity: Activity) -> str | None:
    """`from.name`, cut to the length Curfew keeps (domain.limits.PERSON_NAME_MAX)."""
    sender = activity.from_property
    return bounded_name(str(sender.name)) if sender is not None and sender.name else None


def conversation_type(activity: Activity) -> str:
    conversation = activity.conversation
    return (
        str(conversation.conversation_type) if conversation and conversation.conversation_type else PERSONAL
    )


def _sent_timezones(activity: Activity) -> list[str]:
    """What the activity says of the client's zone: `localTimezone`, then clientInfo's `timezone`."""
    sent = [activity.local_timezone]
    for entity in activity.entities or []:
        if (entity.type or "").lower() == "clientinfo":
            sent.append((entity.additional_properties or {}).get("timezone"))
    return [str(zone) for zone in sent if zone]


def local_timezone(activity: Activity) -> str | None:
    """The IANA zone Teams reports for the sender's client, if it is one Curfew knows
    (`domain.limits.known_zone`: a known IANA name, at most 64 characters); else None."""
    return next((zone for zone in _sent_timezones(activity) if known_zone(zone)), None)


def unknown_timezone(activity: Activity) -> str | None:
    """What the activity gave as the client's zone when it names no zone Curfew knows, shortened to
    quote back; None when it gave a known zone or none."""
    sent = _sent_timezones(activity)
    return shown(sent[0]) if sent and local_timezone(activity) is None else None


def _bot_mentions(activity: Activity) -> list[dict[str, Any]]:
    bot_id = activity.recipient.id if activity.recipient else None
    found = []
    for entity in activity.entities or []:
        if (entity.type or "").lower() != "mention":
            continue
        props = entity.additional_properties or {}
        if (props.get("mentioned") or {}).get("id") == bot_id:
            found.append(props)
    return found


def mentions_bot(activity: Activity) -> bool:
    return bool(_bot_mentions(activity))


MAX_MENTIONS = 10
"""Mentions of the bot removed from one message; more are left for the grammar to refuse."""


def text_without_bot_mention(activity: Activity) -> str:
    """The message text with the bot's `<at>…</at>` mention(s) removed and whitespace tidied.

    A text far over the grammar's length limit is passed on as it is (the grammar answers it before
    reading it): removing mentions from it would cost as much as the text times its mentions."""
    text = activity.text or ""
    if len(text) > 2 * MAX_MESSAGE_CHARS:
        return text
    for mention in _bot_mentions(activity)[:MAX_MENTIONS]:
        name = (mention.get("mentioned") or {}).get("name") or ""
        at_text = mention.get("text") or f"<at>{name}</at>"
        text = text.replace(at_text, " ")
    text = text.replace("&nbsp;", " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def inbound(activity: Activity, kind: InboundKind, **fields: Any) -> Inbound:
    """An `Inbound` with the sender, tenant, conversation and zone of `activity`."""
    base: dict[str, Any] = {
        "user_aad_id": sender_aad_id(activity),
        "user_name": sender_name(activity),
        "tenant_id": tenant_of(activity),
        "conversation_id": activity.conversation.id if activity.conversation else "",
        "conversation_type": conversation_type(activity),
        "local_timezone": local_timezone(activity),
        "unknown_timezone": unknown_timezone(activity),
        "reply_to_id": activity.reply_to_id,
        "activity_id": activity.id,
    }
    base.update(fields)
    return Inbound(kind=kind, **base)


def message_inbound(activity: Activity) -> Inbound:
    value = activity.value if isinstance(activity.value, Mapping) else None
    return inbound(activity, InboundKind.MESSAGE, text=text_without_bot_mention(activity), value=value)


def action_inbound(activity: Activity) -> Inbound:
    """An Action.Execute click: `value.action.verb` and `value.action.data` (a plain dict)."""
    value = activity.value if isinstance(activity.value, Mapping) else {}
    found = value.get("action")
    action: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    data = action.get("data") if isinstance(action.get("data"), Mapping) else {}
    verb = action.get("verb") if isinstance(action.get("verb"), str) else None
    return inbound(activity, InboundKind.ACTION, verb=verb, value=data)


def reference_of(activity: Activity, tenant_id: str | None) -> dict[str, Any]:
    """The conversation reference as JSON (the tenant kept in `conversation.tenantID`).

    Without the activity's own id: a proactive message starts a new message, it never answers that
    one, and with it the stored reference changed on every turn (a database write per turn)."""
    reference = TurnContext.get_conversation_reference(activity)
    if reference.conversation is not None and tenant_id:
        reference.conversation.tenant_id = tenant_id  # the activity's own: its replies carry it too
    serialized = reference_json(reference)
    serialized.pop("activityId", None)
    return serialized


def reply_attachments(reply: Reply) -> list[dict[str, Any]] | None:
    """The reply's Adaptive Card as an attachment's JSON (what `reply_activity` carries)."""
    if reply.card is None:
        return None
    return [{"contentType": CARD_CONTENT_TYPE, "content": dict(reply.card)}]


def reply_activity(reply: Reply) -> Activity:
    """A message activity with the reply's text and/or its Adaptive Card."""
    attachments = None
    if reply.card is not None:
        attachments = [Attachment(content_type=CARD_CONTENT_TYPE, content=dict(reply.card))]
    activity = Activity(type=ActivityTypes.message, text=reply.text, attachments=attachments)
    if reply.update_activity_id:
        activity.id = reply.update_activity_id
    return activity


def card_invoke_response(card: Mapping[str, Any]) -> InvokeResponse:
    """HTTP 200 with the card that replaces the clicked one.

    The body is the JSON of botbuilder's `AdaptiveCardInvokeResponse` (statusCode, type, value), as a
    dict: the endpoint writes invoke bodies itself (`bot.adapter.teams.invoke_body`), never through the
    aiohttp CloudAdapter that serializes a dict twice (FIELD-NOTES), and msrest's walk of the card
    would cost a click more than the rest of its answer."""
    body = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": dict(card)}
    return InvokeResponse(status=200, body=body)


def message_invoke_response(text: str) -> InvokeResponse:
    """HTTP 200 with a message Teams shows by the card instead of replacing it.

    A plain dict: the schema types `value` as an object, so a model cannot carry a string. The
    endpoint serializes invoke bodies itself (`bot.adapter.invoke_body`), so a dict is safe here.
    """
    body = {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text}
    return InvokeResponse(status=200, body=body)
