"""The bot's own Bot Framework token, got the way the adapter gets one for every proactive message.

`python app.py doctor` asks for it: with `MicrosoftAppType` UserAssignedMSI the token comes from the
managed identity (App Service's IDENTITY_ENDPOINT, through MSAL's ManagedIdentityClient), with
SingleTenant or MultiTenant from Microsoft Entra with the app's password. botbuilder builds the
credentials from the same configuration object as `TeamsAdapter`, for the same audience (the
channel service's: https://api.botframework.com in the public cloud), so a token here means the
warnings tonight can be signed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

from bot.adapter.teams import _BotConfig  # the adapter's own configuration object, on purpose
from config.settings import BotSettings


class BotTokenError(Exception):
    """No token: `str(error)` says why, without any secret."""


async def bot_token(bot: BotSettings, service_url: str) -> str:
    """Get a Bot Framework token for `bot`'s identity for the connector at `service_url`; return its
    audience. Raises BotTokenError with the reason."""
    try:
        auth = ConfigurationBotFrameworkAuthentication(_BotConfig(bot))
    except Exception as refused:  # botbuilder names a missing property with a bare Exception
        raise BotTokenError(_setting_names(str(refused))) from None
    claims = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: bot.app_id}, True)
    audience = str(auth.get_originating_audience())
    client = await auth.create_connector_factory(claims).create(service_url, audience)
    credentials = client.config.credentials
    try:
        token = await asyncio.to_thread(credentials.get_access_token)
    except KeyError:  # ManagedIdentityAppCredentials reads "access_token" from MSAL's error answer
        raise BotTokenError(await asyncio.to_thread(_msal_refusal, credentials)) from None
    except Exception as error:  # MSAL, requests and botbuilder each raise their own
        raise BotTokenError(f"{type(error).__name__}: {_first_line(error)}") from None
    if not token:
        raise BotTokenError("the identity answered without an access token")
    return audience


def _msal_refusal(credentials: Any) -> str:
    """What the managed identity endpoint said, asked once more through the credential's MSAL client."""
    app = getattr(credentials, "app", None)
    if app is None:
        return "the managed identity gave no token"
    try:
        answer = app.acquire_token_for_client(resource=credentials.oauth_scope)
    except Exception as error:
        return f"{type(error).__name__}: {_first_line(error)}"
    return f"the managed identity refused: {answer.get('error')}: {answer.get('error_description')}"


def _setting_names(message: str) -> str:
    for prop, name in (
        ("APP_TENANTID", "MicrosoftAppTenantId"),
        ("APP_PASSWORD", "MicrosoftAppPassword"),
        ("APP_ID", "MicrosoftAppId"),
    ):
        message = message.replace(
            f"Property '{prop}' is expected in configuration object", f"{name} is not set"
        )
    return message


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else "no details"
