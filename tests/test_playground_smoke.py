"""Smoke test of the Playground harness: a Teams client stand-in in headless Chromium against a tiny bot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.echo_bot import run_echo_bot
from tests.playground import (
    CURRENT_USER_AAD_ID,
    CURRENT_USER_NAME,
    PERSONAL_CHAT_ID,
    TENANT_ID,
    require_playground,
    run_playground,
)

pytestmark = pytest.mark.playground


async def test_echo_and_action_execute_card_refresh(tmp_path: Path) -> None:
    require_playground()
    started = time.monotonic()
    async with (
        run_echo_bot() as running,
        run_playground(running.endpoint, timezone="Europe/Amsterdam") as playground,
        playground.page() as page,
    ):
        ready = time.monotonic()
        try:
            await page.send("hello")
            assert await page.wait_for_bot_text("Echo: hello") == "Echo: hello"

            await page.send("card")
            await page.wait_for_card_text("Press the button")
            await page.click_card_button("Press me")
            refreshed = await page.wait_for_card_text(f"Pressed by {CURRENT_USER_NAME}")
            assert "Press me" not in refreshed  # the invoke answer replaced the card
        except BaseException:
            await page.screenshot(tmp_path / "failure.png")
            print(f"screenshot: {tmp_path / 'failure.png'}\n--- playground log ---\n{playground.log_text()}")
            raise
        finished = time.monotonic()

        # What the Playground sent to the bot.
        activities = running.bot.activities
        types = [a.type for a in activities]
        assert "installationUpdate" in types  # sent on page load (and again on every reload)
        hello = next(a for a in activities if a.type == "message" and a.text == "hello")
        assert hello.channel_id == "msteams"
        assert hello.service_url == playground.connector_url
        assert hello.from_property.aad_object_id == CURRENT_USER_AAD_ID
        assert hello.from_property.name == CURRENT_USER_NAME
        assert hello.channel_data["tenant"]["id"] == TENANT_ID
        assert hello.conversation.id == PERSONAL_CHAT_ID
        assert hello.conversation.conversation_type == "personal"
        assert hello.local_timezone == "Europe/Amsterdam"
        invoke = next(a for a in activities if a.type == "invoke")
        assert invoke.name == "adaptiveCard/action"
        assert invoke.value["action"]["verb"] == "press"
        assert invoke.from_property.aad_object_id == CURRENT_USER_AAD_ID

    print(
        f"\nplayground+browser ready in {ready - started:.1f} s, conversation in {finished - ready:.1f} s;"
        f" activities received: {types}; blocked non-loopback requests: {len(page.blocked_requests)}"
    )
