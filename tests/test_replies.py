"""Curfew's own reply path (bot/adapter/replies.py) sends what botbuilder's connector client would.

The JSON is compared with msrest's serialization of the activity botbuilder builds for the same reply
(`apply_conversation_reference` on the inbound activity's reference); the HTTP side (URL, headers,
status handling) is exercised through /api/messages against the connector stand-in in
tests/test_bot_protocol.py and tests/test_bot_adapter.py.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse
from botframework.connector import models
from msrest import Configuration, Serializer, ServiceClient

from bot.adapter import activities as acts
from bot.adapter.connector_errors import Verdict, connector_failure
from bot.adapter.replies import ConnectorHttpError, connector_url, reference_json, reply_json
from bot.turns import Reply

SERIALIZER = Serializer({k: v for k, v in models.__dict__.items() if isinstance(v, type)})
CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "gpu-ci stops at 20:00", "wrap": True}],
    "actions": [{"type": "Action.Execute", "verb": "warning", "data": {"curfew": True, "n": None}}],
}


def inbound(**extra: Any) -> Activity:
    body = {
        "type": "message",
        "id": "1:incoming",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "locale": "en-US",
        "text": "status",
        "from": {"id": "29:user", "name": "Dana", "aadObjectId": "aad-dana", "role": "user", "x": 1},
        "recipient": {"id": "28:bot", "name": "Curfew"},
        "conversation": {"id": "a:chat", "conversationType": "personal", "tenantId": "T", "isGroup": False},
        "channelData": {"tenant": {"id": "T"}},
        **extra,
    }
    return Activity().deserialize(body)


def botbuilders(activity: Activity, reply: Reply) -> dict[str, Any]:
    """What botbuilder's TurnContext.send_activity / update_activity hand msrest for `reply`."""
    reference = TurnContext.get_conversation_reference(activity)
    outgoing = acts.reply_activity(reply)
    if reply.update_activity_id:
        sent = TurnContext.apply_conversation_reference(outgoing, reference)
    else:
        sent = TurnContext.apply_conversation_reference(deepcopy(outgoing), reference)
        sent.input_hint, sent.id = "acceptingInput", None
    body: dict[str, Any] = SERIALIZER.body(sent, "Activity")
    return body


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="You have no running instances."),
        Reply(card=CARD),
        Reply(text="Kept.", card=CARD),
        Reply(card=CARD, update_activity_id="1:card"),
    ],
    ids=["text", "card", "both", "update"],
)
def test_a_reply_is_the_json_botbuilder_would_send(reply: Reply) -> None:
    activity = inbound()
    ours = reply_json(
        TurnContext.get_conversation_reference(activity),
        reply.text,
        acts.reply_attachments(reply),
        reply.update_activity_id,
    )
    assert ours == botbuilders(activity, reply)
    assert ours["recipient"]["aadObjectId"] == "aad-dana" and "x" not in ours["recipient"]
    assert ours["replyToId"] == "1:incoming"


def test_a_proactive_send_answers_no_activity() -> None:
    activity = inbound(id=None)
    ours = reply_json(TurnContext.get_conversation_reference(activity), "hello", None)
    assert "replyToId" not in ours and ours == botbuilders(activity, Reply(text="hello"))


def test_the_stored_reference_is_msrests_serialization() -> None:
    activity = inbound()
    reference = TurnContext.get_conversation_reference(activity)
    reference.conversation.tenant_id = "T"
    assert reference_json(reference) == reference.serialize()
    stored = acts.reference_of(inbound(), "T")
    assert stored["conversation"]["tenantID"] == "T" and "activityId" not in stored


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/emea",
        "http://localhost:56150/_connector",
    ],
)
def test_the_url_is_msrests(service_url: str) -> None:
    client = ServiceClient(None, Configuration(service_url))
    path = "v3/conversations/a%3Achat/activities/1%3Aincoming"
    assert connector_url(service_url, path) == client.format_url("/" + path)
    assert "//v3" not in connector_url(service_url, path)


def test_connector_errors_read_as_botbuilders() -> None:
    throttled = connector_failure(ConnectorHttpError(429, {"retry-after": "2.5"}, None))
    assert (throttled.verdict, throttled.status, throttled.retry_after) == (Verdict.RETRY, 429, 2.5)
    blocked = connector_failure(ConnectorHttpError(403, {}, "MessageWritesBlocked"))
    assert blocked.verdict is Verdict.UNREACHABLE and blocked.code == "MessageWritesBlocked"
    assert connector_failure(ConnectorHttpError(400, {}, "BadArgument")).verdict is Verdict.FAIL
    assert connector_failure(ConnectionResetError()).verdict is Verdict.RETRY


def test_an_invoke_answer_is_the_adaptive_card_response_json() -> None:
    model = AdaptiveCardInvokeResponse(status_code=200, type=acts.CARD_CONTENT_TYPE, value=dict(CARD))
    assert acts.card_invoke_response(CARD).body == serializer_helper(model)
