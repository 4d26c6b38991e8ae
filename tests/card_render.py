"""Adaptive Cards drawn by the official renderer (npm `adaptivecards`, Teams' light host config) in
headless Chromium: a PNG of each card at a given width, and each button's title as it is shown.

    async with CardRenderer() as renderer:
        drawn = await renderer.render(card, width=360, png=Path("docs/cards/warning-360.png"))
        assert drawn.truncated == []

A button is truncated when the text element inside it is wider than the room it has (the renderer cuts
it with an ellipsis: "Keep unti…"); every button counts, overflow ("…") menus and ShowCard forms included
(a ShowCard's form is opened to measure its buttons).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
# Teams' light host config as Microsoft publishes it in npm adaptivecards-designer (make unpacks it).
HOST_CONFIG = HERE.parent / "node_modules" / ".curfew" / "microsoft-teams-light.json"
LIBRARY = ROOT / "node_modules" / "adaptivecards" / "dist"
CHROMIUM = os.environ.get("CURFEW_CHROMIUM", "/usr/bin/chromium")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #f5f5f5; font-family: 'Segoe UI', system-ui, sans-serif; }
#card { background: #fff; margin: 0; }
.ac-pushButton { padding: 4px 12px; min-height: 32px; border: 1px solid #d1d1d1; border-radius: 4px;
  background: #fff; font: 600 14px 'Segoe UI', system-ui, sans-serif; color: #242424; }
.ac-pushButton.style-positive { background: #5b5fc7; color: #fff; border-color: #5b5fc7; }
.ac-input { font: 14px 'Segoe UI', system-ui, sans-serif; min-height: 32px; box-sizing: border-box; }
</style></head><body><div id="card"></div></body></html>"""

RENDER = r"""([card, host, width, openForms]) => {
  // Teams renders markdown in TextBlocks; the library leaves it to the host: bold, code, line breaks
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    result.outputHtml = esc.replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>')
      .replace(/  \n/g, '<br>');
    result.didProcess = true;
  };
  const box = document.getElementById('card');
  box.style.width = width + 'px';
  box.innerHTML = '';
  const ac = new AdaptiveCards.AdaptiveCard();
  ac.hostConfig = new AdaptiveCards.HostConfig(host);
  ac.parse(card);
  box.appendChild(ac.render());
  // open every ShowCard form, so its inputs and buttons are drawn and measured too
  if (openForms) for (const b of box.querySelectorAll('button.expandable[aria-expanded="false"]')) b.click();
  return box.scrollHeight;
}"""

MEASURE = """() => [...document.querySelectorAll('#card button.ac-pushButton')].map(b => {
  const label = b.querySelector('div') || b;
  return {title: b.getAttribute('title') || b.getAttribute('aria-label') || '',
          shown: label.innerText, cut: label.scrollWidth > label.clientWidth + 1,
          width: b.getBoundingClientRect().width};
})"""


@dataclass(frozen=True)
class Drawn:
    height: int
    buttons: list[dict[str, Any]]
    png: Path | None

    @property
    def truncated(self) -> list[str]:
        """Titles of the buttons whose text does not fit (shown cut with an ellipsis)."""
        return [b["title"] for b in self.buttons if b["cut"]]


def available() -> str | None:
    """Why the renderer cannot run here, or None."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"no Chromium at {CHROMIUM}"
    if not (LIBRARY / "adaptivecards.min.js").exists():
        return "npm adaptivecards is not installed (npm ci)"
    return None


class CardRenderer:
    def __init__(self) -> None:
        self._pw: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._host = json.loads(HOST_CONFIG.read_text(encoding="utf-8"))

    async def __aenter__(self) -> CardRenderer:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self._browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self._page = await self._browser.new_page(viewport={"width": 1000, "height": 800})
        await self._page.set_content(PAGE)
        await self._page.add_style_tag(path=str(LIBRARY / "adaptivecards.css"))
        await self._page.add_style_tag(content=PAGE.split("<style>")[1].split("</style>")[0])
        await self._page.add_script_tag(path=str(LIBRARY / "adaptivecards.min.js"))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()

    async def render(
        self, card: dict[str, Any], width: int, png: Path | None = None, *, open_forms: bool = True
    ) -> Drawn:
        """Draw `card` `width` px wide (ShowCard forms opened unless `open_forms` is False)."""
        page = self._page
        height = int(await page.evaluate(RENDER, [card, self._host, width, open_forms]))
        await page.set_viewport_size({"width": width, "height": max(200, height)})
        buttons = list(await page.evaluate(MEASURE))
        if png is not None:
            png.parent.mkdir(parents=True, exist_ok=True)
            await page.locator("#card").screenshot(path=str(png))
        return Drawn(height, buttons, png)
