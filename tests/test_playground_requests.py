"""A request and its approval by a second person, each in their own Agents Playground (headless
Chromium), against the real service on the simulated fleet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.playground import PlaygroundPage, require_playground, run_playground
from tests.test_playground_ui import curfew_service, step

pytestmark = pytest.mark.playground
ROOT = Path(__file__).resolve().parents[1]


def as_alex(tmp_path: Path) -> Path:
    """The repository's mock tenant with Alex Approver as the current user (Dana among the others)."""
    config = yaml.safe_load((ROOT / ".m365agentsplayground.yml").read_text())
    dana = config["currentUser"]
    alex = next(u for u in config["users"] if u["name"] == "Alex Approver")
    config["currentUser"] = alex
    config["users"] = [dana if u is alex else u for u in config["users"]]
    config["personalChat"] = {"id": "personal-chat-alex"}
    path = tmp_path / ".m365agentsplayground.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def fill(page: PlaygroundPage, selector: str, value: str) -> None:
    """Type into the newest card's input matching `selector` (inside .ac-adaptiveCard)."""
    await page.page.locator(f".ac-adaptiveCard {selector}").last.fill(value)


async def test_a_request_approved_by_a_second_user_appears_in_status(tmp_path: Path) -> None:
    require_playground()
    shots = Path(os.environ.get("CURFEW_SCREENSHOTS", tmp_path))
    async with (
        curfew_service(tmp_path) as (endpoint, _rt),
        run_playground(endpoint, timezone="Europe/Berlin") as dana_playground,
        run_playground(
            endpoint, port=0, config=as_alex(tmp_path), timezone="Europe/Berlin"
        ) as alex_playground,
        dana_playground.page() as dana,
        alex_playground.page() as alex,
    ):
        try:
            await alex.wait_for_card_text("I am Curfew", timeout=20)  # Alex's chat exists
            await step(dana, "request a GPU instance", "Request a compute instance", card=True)
            await fill(dana, 'input[placeholder^="3 to 24 letters"]', "dana-gpu-2")
            await fill(dana, "textarea", "fine-tuning the summariser")
            picker = dana.page.locator('.ac-adaptiveCard input[placeholder="Select a date..."]').last
            await picker.fill("2027-03-01")  # the project's end date, in Teams' date picker
            await picker.press("Enter")
            assert await picker.input_value() == "March 1, 2027"
            await dana.click_card_button("Send request")
            await alex.wait_for_card_text("asks for a compute instance", timeout=20)
            await alex.click_card_button("Approve")
            await alex.wait_for_card_text("Approved by Alex Approver", timeout=20)
            await dana.wait_for_bot_text("dana-gpu-2 is ready", timeout=60, since_send=False)
            status = await step(dana, "status", "dana-gpu-2", card=True)
            assert "Standard_NC6s_v3" in status
            await dana.screenshot(shots / "request-dana.png")
            await alex.screenshot(shots / "request-alex.png")
        except BaseException:
            await dana.screenshot(shots / "request-failure-dana.png")
            await alex.screenshot(shots / "request-failure-alex.png")
            print(f"screenshots in {shots}")
            raise
