"""The main cards drawn by the official renderer in headless Chromium at a phone's 360 px: no button title
of the warning, status, request or approval card is cut (each button's text measured against its title),
and the measurement does see the cut titles of the warning card Curfew sent before (five buttons a row)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.card_gallery import main_cards
from tests.card_render import CardRenderer, available
from tests.conftest import require

PHONE = 360
OUT = Path(os.environ.get("CURFEW_CARD_RENDERS", "build/cards"))


async def test_no_button_title_is_cut_at_360_px() -> None:
    require(available() is None, f"card renders: {available()}")
    cards = await main_cards()
    async with CardRenderer() as renderer:
        for name in ("warning", "status", "request-form", "approval"):
            drawn = await renderer.render(cards[name], PHONE, OUT / f"{name}-{PHONE}.png")
            titles = [b["title"] for b in drawn.buttons]
            assert drawn.truncated == [], (name, drawn.buttons)
            assert all(b["shown"] == b["title"] for b in drawn.buttons if b["title"] != "More options"), (
                titles
            )
            assert titles, f"{name}: no button drawn"
            print(f"{name}: {drawn.height} px tall at {PHONE} px, buttons {titles}: {drawn.png}")
        warning = await renderer.render(cards["warning"], PHONE, open_forms=False)
        assert {"Apply", "Keep until…"} <= {b["title"] for b in warning.buttons}
        assert warning.height <= 640, warning.height  # two instances to stop and one kept: a phone screen


async def test_the_measurement_sees_the_cut_buttons_of_the_old_warning_card() -> None:
    require(available() is None, f"card renders: {available()}")
    old = json.loads(
        (Path(__file__).parent / "adaptivecards" / "before-warning-2-instances.json").read_text()
    )
    async with CardRenderer() as renderer:
        drawn = await renderer.render(old, PHONE, open_forms=False)
    assert {"Keep 1 hour", "Keep 2 hours", "Keep tonight", "Stop now"} & set(drawn.truncated), drawn.buttons
