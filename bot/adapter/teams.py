"""The Bot Framework adapter: the only door between Teams and Curfew's `TurnHandler`.

Every botbuilder import lives here and in the `bot/adapter_*.py` and `bot/messenger.py` modules, so
that a move to the Microsoft 365 Agents SDK is a contained change.

`TeamsAdapter.process(request, handler)` answers one POST /api/messages:

- 400 for a body that is not a JSON activity; 401 when authentication fails (with `MicrosoftAppId`
  set, a request without `Authorization` is refused before anything runs);
- otherwise the turn runs (see `bot/adapter_turn.py`) and the answer is 201, or the invoke response.

A failing turn is logged with its stack and the user gets one short apology, never the error text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ConnectorFactory
from msrest.universal_http.requests import ClientRetryPolicy

from bot.adapter import activities as acts
from bot.adapter.connectors import ReusingAuthentication
from bot.adapter.inbound_shape import BadBody, load_activity
from bot.adapter.replies import ConnectorPoster
from bot.adapter.turn import CurfewActivityHandler
from bot.turns import TurnHandler
from config.settings import BotSettings, Settings
from storage.repositories import Store

log = logging.getLogger(__name__)


def _fast_msrest_retry_policy() -> None:
    """msrest builds its retry status list with `i not in <a 500-item list>` for 999 codes every time
    a connector client is made (once per turn): about 4 ms of CPU per turn, the largest cost of a chat
    turn in bench/chat.py. The same codes as a frozenset make it microseconds; the policy is unchanged.
    """
    codes: Any = ClientRetryPolicy.safe_codes
    if not isinstance(codes, frozenset):
        ClientRetryPolicy.safe_codes = frozenset(codes)  # type: ignore[assignment]


_fast_msrest_retry_policy()

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
TEAMS_CHANNEL = "msteams"


class _BotConfig:
    """The configuration object ConfigurationBotFrameworkAuthentication reads (APP_ID, ...)."""

    def __init__(self, bot: BotSettings) -> None:
        self.APP_ID = bot.app_id
        self.APP_PASSWORD = bot.app_password
        self.APP_TYPE = bot.kind
        self.APP_TENANTID = bot.app_tenant_id
        # GCC High and DoD: the SDK switches every Bot Framework endpoint to the government ones.
        self.CHANNEL_SERVICE = bot.channel_service or None


class BadActivity(ValueError):
    """The request body is not a Bot Framework activity."""


class TeamsAdapter:
    """botbuilder's CloudAdapter with Curfew's identity, error handling and turn logic."""

    def __init__(
        self, settings: Settings, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.app_id = settings.bot.app_id
        self._store = store
        self.clock = clock
        self.cloud = CloudAdapter(ReusingAuthentication(_BotConfig(settings.bot)))
        self.cloud.on_turn_error = self._on_turn_error
        self.poster = ConnectorPoster()
        self._proactive: ConnectorFactory | None = None

    async def proactive_connector(self, service_url: str) -> ConnectorClient:
        """The connector client `continue_conversation` makes for a proactive message to `service_url`:
        the same claims (the app id as audience and app id) and no audience; made once per service URL."""
        if self._proactive is None:
            claims = self.cloud.create_claims_identity(self.app_id)
            self._proactive = self.cloud.bot_framework_authentication.create_connector_factory(claims)
        client: ConnectorClient = await self._proactive.create(service_url, None)
        return client

    async def close(self) -> None:
        """Close the connection pool the replies go out on."""
        await self.poster.close()

    @property
    def audience(self) -> str:
        """The OAuth scope of outgoing connector calls (https://api.botframework.com in Azure public)."""
        return str(self.cloud.bot_framework_authentication.get_originating_audience())

    async def process(self, request: web.Request, handler: TurnHandler) -> web.Response:
        """Authenticate and run one inbound activity; the HTTP answer for the channel."""
        try:
            activity = parse_activity(await request.read())
        except BadActivity as problem:
            return web.json_response({"error": str(problem)}, status=400)
        auth = await self._authenticate(activity, request.headers.get("Authorization", ""))
        if isinstance(auth, web.Response):
            return auth
        teams = self.settings.teams
        bot = CurfewActivityHandler(
            handler, self._store, self.clock, teams.approvals_channel, teams.tenant_id, self.poster
        )
        try:
            invoke_response = await self.cloud.process_activity(auth, activity, bot.on_turn)
        except Exception:
            log.exception("could not run a %s activity", activity.type)
            return web.json_response({"error": "internal error"}, status=500)
        if invoke_response is None:
            return web.Response(status=201)
        return web.json_response(invoke_body(invoke_response.body), status=invoke_response.status)

    async def _authenticate(self, activity: Activity, header: str) -> Any:
        """The AuthenticateRequestResult, or the 401/503 response to send instead."""
        auth = self.cloud.bot_framework_authentication
        try:
            return await auth.authenticate_request(activity, header)
        except PermissionError as refused:
            reason = str(refused)
        except (jwt.PyJWTError, ValueError, KeyError) as refused:
            reason = f"invalid token ({type(refused).__name__})"
        except OSError as error:  # the OpenID metadata could not be fetched
            log.error("cannot validate a Bot Framework token: %s", type(error).__name__)
            return web.json_response({"error": "cannot validate the token now"}, status=503)
        except Exception as refused:  # botframework raises bare Exception for a bad endorsement
            reason = str(refused) or type(refused).__name__
        log.warning("refused a %s activity from %s: %s", activity.type, activity.service_url, reason)
        return web.json_response({"error": "unauthorized"}, status=401)

    async def _on_turn_error(self, turn_context: TurnContext, error: Exception) -> None:
        """Log with the stack; one apology to the user (in the invoke response for a card click)."""
        activity = turn_context.activity
        log.error(
            "turn failed: %s activity from %s in %s",
            activity.type,
            acts.sender_aad_id(activity),
            activity.conversation.id if activity.conversation else "?",
            exc_info=error,
        )
        if activity.type == ActivityTypes.invoke and not turn_context.turn_state.get(
            TurnContext._INVOKE_RESPONSE_KEY
        ):
            turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
                type=ActivityTypes.invoke_response, value=acts.message_invoke_response(APOLOGY)
            )
            return
        try:
            await turn_context.send_activity(APOLOGY)
        except Exception:
            log.exception("could not send the apology either")


def invoke_body(body: Any) -> Any:
    """JSON for an invoke response body: a schema model is serialized once, plain JSON kept as is."""
    if body is None or isinstance(body, dict | list | str | int | float):
        return body
    return serializer_helper(body)


def parse_activity(raw: bytes) -> Activity:
    """The activity in a request body; BadActivity with a clear reason otherwise (see inbound_shape)."""
    try:
        body = load_activity(raw)
    except BadBody as problem:
        raise BadActivity(str(problem)) from None
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise BadActivity('the activity has no "type"')
    try:
        activity = Activity().deserialize(body)
    except Exception as error:  # msrest raises DeserializationError, TypeError, AttributeError, ...
        raise BadActivity(f"the activity is malformed: {type(error).__name__}")
    if not activity.service_url or not activity.conversation or not activity.conversation.id:
        raise BadActivity('the activity needs "serviceUrl" and "conversation.id"')
    return activity
