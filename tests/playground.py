"""Test harness: drive the Microsoft 365 Agents Playground (a Teams client stand-in) in headless Chromium.

The Playground (npm ``@microsoft/m365agentsplayground``, pinned in package.json, installed by ``npm ci``) is a
local web UI plus a mock Bot Connector. It posts activities to the bot endpoint; the bot replies to
``activity.service_url``, which is the Playground's own connector, ``http://localhost:<port>/_connector``.
Its mock tenant and users come from ``.m365agentsplayground.yml`` (current user: the demo owner, aadObjectId
00000000-0000-0000-0000-000000000020).

Usage::

    from tests.playground import require_playground, run_playground

    async def test_something(bot_endpoint):
        require_playground()  # skip here, fail on CI
        async with run_playground(bot_endpoint) as playground, playground.page() as page:
            await page.send("hello")
            await page.wait_for_bot_text("Echo: hello")
            await page.send("card")
            await page.wait_for_card_text("Press the button")
            await page.click_card_button("Press me")
            await page.wait_for_card_text("Pressed by Dana Scientist")

Everything stays on loopback: the Playground is started with telemetry off, and the browser refuses any
request to a non-loopback host (the page would otherwise fetch fonts and an animation from a Microsoft CDN).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Route

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAYGROUND_BIN = Path("node_modules") / ".bin" / "agentsplayground"  # relative to the workdir
CONFIG_FILE_NAME = ".m365agentsplayground.yml"
CHROMIUM = Path(os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium"))
# Parallel checkouts on one machine each set their own port.
DEFAULT_PORT = int(os.environ.get("CURFEW_PLAYGROUND_PORT", "56150"))

# Values from the repo's .m365agentsplayground.yml, for assertions in tests.
TENANT_ID = "00000000-0000-0000-0000-000000000001"
CURRENT_USER_AAD_ID = "00000000-0000-0000-0000-000000000020"  # Dana Scientist, the demo owner
CURRENT_USER_NAME = "Dana Scientist"
APPROVER_AAD_ID = "00000000-0000-0000-0000-000000000021"  # Alex Approver
PERSONAL_CHAT_ID = "personal-chat-dana"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces with the request filter below: no name but loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]

# DOM selectors of the Playground 0.2.28 web client (build details: re-check them when the version changes).
COMPOSE_BOX = '[data-lexical-editor="true"][role="textbox"]'
SEND_BUTTON = 'button[aria-label="Send Message"]'
BOT_BUBBLE = ".fai-OutputCard"  # one per bot message (user messages are not OutputCards)
CARD = ".fai-OutputCard .ac-adaptiveCard"
CARD_BUTTON = ".ac-adaptiveCard .ac-actionSet button[aria-label={title}]"

NO_TELEMETRY_CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_LISTENING = re.compile(rb"Listening on (\d+)")


class PlaygroundError(RuntimeError):
    """The Playground did not start or died; the message carries the tail of its output and log."""


class PlaygroundTimeout(AssertionError):
    """An expected text did not show up in the Playground page in time."""


# ----------------------------------------------------------------------------------------------------
# Availability


def _process_unavailable_reason(workdir: Path) -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (node not on PATH): install Node.js 20+"
    if not (workdir / PLAYGROUND_BIN).exists():
        return (
            f"Agents Playground not installed ({workdir / PLAYGROUND_BIN} missing): run `npm ci` in {workdir}"
        )
    if not (workdir / CONFIG_FILE_NAME).exists():
        return f"{workdir / CONFIG_FILE_NAME} is missing: the Playground needs its mock tenant and users"
    return None


def playground_unavailable_reason(workdir: Path = REPO_ROOT) -> str | None:
    """Why the Playground UI tests cannot run on this machine, or None when they can."""
    reason = _process_unavailable_reason(workdir)
    if reason is not None:
        return reason
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set PLAYGROUND_CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return (
            "Python package playwright is not installed: pip install playwright (no browser download needed)"
        )
    return None


def require_playground(workdir: Path = REPO_ROOT) -> None:
    """Skip the calling test when the Playground cannot run here; fail instead when $CI is set."""
    import pytest

    reason = playground_unavailable_reason(workdir)
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Playground unavailable on CI: {reason}", pytrace=False)
    pytest.skip(reason)


# ----------------------------------------------------------------------------------------------------
# The Playground process


@dataclass
class Playground:
    """A running Playground. ``url`` is the web UI, ``connector_url`` the serviceUrl the bot replies to."""

    port: int
    process: asyncio.subprocess.Process
    workdir: Path
    log_path: Path  # the Playground's own log (errors only go here)
    output_path: Path  # its stdout + stderr
    bot_endpoint: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def connector_url(self) -> str:
        return f"http://localhost:{self.port}/_connector"

    def log_text(self) -> str:
        return _read(self.log_path) + _read(self.output_path)

    def page(self, **kwargs: Any) -> contextlib.AbstractAsyncContextManager[PlaygroundPage]:
        """A fresh headless Chromium on the Playground UI: ``async with playground.page() as page``."""
        return open_playground_page(self.url, **kwargs)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def run_playground(
    bot_endpoint: str,
    *,
    workdir: Path = REPO_ROOT,
    port: int = DEFAULT_PORT,
    config: Path | None = None,
    timezone: str | None = None,
    startup_timeout: float = 30.0,
    extra_args: list[str] | None = None,
) -> AsyncIterator[Playground]:
    """Start ``agentsplayground -e <bot_endpoint> -c msteams`` in ``workdir``; kill its process tree on exit.

    port: 0 picks a free port. An occupied port makes the Playground fall back to a random one, so read the
        real one from ``playground.port``/``playground.url`` (parsed from its "Listening on N" line).
    config: another .m365agentsplayground.yml (e.g. with a different current user); default: the workdir's.
    timezone: IANA name for the Playground's process (TZ); the Playground sends it as ``localTimezone``.
    The bot endpoint need not be up yet: the Playground waits for it when the page connects.
    """
    reason = _process_unavailable_reason(workdir)
    if reason is not None:
        raise PlaygroundError(reason)
    if port == 0:
        port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="playground-"))
    log_path = tmp / "m365agentsplayground.log"
    output_path = tmp / "output.txt"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("M365_AGENTS_PLAYGROUND_", "TEAMSAPPTESTER_", "TEAMS_APP_TEST_TOOL_"))
    }
    env.update(
        TEAMSAPPTESTER_BROWSER="none",  # else it tries to open a browser and exits 1 without one
        APPLICATION_INSIGHTS_NO_STATSBEAT="true",  # else it still calls Azure Monitor
        # --disable-telemetry is not honoured on the start-up error path (the server reporter is created
        # before the flag reaches it): point Application Insights at a dead loopback port, just in case.
        APPLICATIONINSIGHTS_CONNECTION_STRING=NO_TELEMETRY_CONNECTION_STRING,
        M365_AGENTS_PLAYGROUND_LOGFILE=str(log_path),
        M365_AGENTS_PLAYGROUND_CONFIG_PATH=str((config or workdir / CONFIG_FILE_NAME).resolve()),
    )
    if timezone:
        env["TZ"] = timezone
    args = [
        str(workdir / PLAYGROUND_BIN),
        "--app-endpoint",
        bot_endpoint,
        "--channel-id",
        "msteams",
        "--port",
        str(port),
        "--disable-telemetry",
        *(extra_args or []),
    ]
    with output_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # own process group: the whole tree is killed on exit
        )
    try:
        actual_port = await _wait_until_up(process, output_path, log_path, startup_timeout)
        yield Playground(
            port=actual_port,
            process=process,
            workdir=workdir,
            log_path=log_path,
            output_path=output_path,
            bot_endpoint=bot_endpoint,
        )
    finally:
        await _kill_tree(process)
        shutil.rmtree(tmp, ignore_errors=True)


async def _wait_until_up(
    process: asyncio.subprocess.Process, output_path: Path, log_path: Path, timeout: float
) -> int:
    deadline = time.monotonic() + timeout
    port: int | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            if process.returncode is not None:
                raise PlaygroundError(
                    f"Agents Playground exited with code {process.returncode} before serving its UI.\n"
                    f"--- output ---\n{_tail(_read(output_path))}\n--- log ---\n{_tail(_read(log_path))}"
                )
            if port is None:
                match = _LISTENING.search(output_path.read_bytes())
                port = int(match.group(1)) if match else None
            if port is not None:
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with http.get(f"http://127.0.0.1:{port}/") as response:
                        if response.status == 200:
                            return port
            if time.monotonic() > deadline:
                raise PlaygroundError(
                    f"Agents Playground UI did not answer within {timeout:.0f} s.\n"
                    f"--- output ---\n{_tail(_read(output_path))}\n--- log ---\n{_tail(_read(log_path))}"
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 0.1)


async def _kill_tree(process: asyncio.subprocess.Process) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # pgid == pid (start_new_session)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
            # The leader is gone; make sure nothing else of its group lingers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return


# ----------------------------------------------------------------------------------------------------
# The browser page


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about:
    return (parts.hostname or "") in LOOPBACK_HOSTS


@asynccontextmanager
async def open_playground_page(
    url: str,
    *,
    ready_timeout: float = 30.0,
    default_timeout: float = 15.0,
    viewport: tuple[int, int] = (1280, 900),
) -> AsyncIterator[PlaygroundPage]:
    """Launch headless Chromium (fresh profile), open the Playground UI and wait for the compose box."""
    from playwright.async_api import async_playwright

    profile = tempfile.mkdtemp(prefix="playground-chromium-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
                service_workers="block",
            )
            try:
                blocked: list[str] = []

                async def guard(route: Route, request: Request) -> None:
                    if _is_loopback(request.url):
                        await route.continue_()
                    else:
                        blocked.append(request.url)
                        await route.abort("blockedbyclient")

                await context.route("**/*", guard)
                page = context.pages[0] if context.pages else await context.new_page()
                page.set_default_timeout(default_timeout * 1000)
                wrapper = PlaygroundPage(page, blocked_requests=blocked)
                await wrapper.load(url, timeout=ready_timeout)
                yield wrapper
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class PlaygroundPage:
    """The Playground's personal chat with the bot, as the current user sees it."""

    def __init__(self, page: Page, *, blocked_requests: list[str] | None = None) -> None:
        self.page = page
        self.blocked_requests = blocked_requests if blocked_requests is not None else []
        self._mark = 0  # bot bubbles present before the last send()

    async def load(self, url: str, *, timeout: float = 30.0) -> None:
        """Open (or reload) the UI. Every load makes the Playground re-send its install events to the bot."""
        await self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        await self.page.locator(COMPOSE_BOX).wait_for(state="visible", timeout=timeout * 1000)
        self._mark = 0

    async def bot_texts(self) -> list[str]:
        """Texts of all bot messages in the open chat, oldest first (cards included)."""
        return [t.strip() for t in await self.page.locator(BOT_BUBBLE).all_inner_texts()]

    async def card_texts(self) -> list[str]:
        return [t.strip() for t in await self.page.locator(CARD).all_inner_texts()]

    async def send(self, text: str) -> None:
        """Type ``text`` in the compose box and press Send. Later waits only look at newer bot messages."""
        self._mark = await self.page.locator(BOT_BUBBLE).count()
        box = self.page.locator(COMPOSE_BOX)
        await box.click()
        await self.page.keyboard.insert_text(text)
        await self.page.locator(SEND_BUTTON).click()

    async def wait_for_bot_text(
        self, substring: str, timeout: float = 15.0, *, since_send: bool = True
    ) -> str:
        """Wait for a bot message containing ``substring`` and return its text.

        By default only messages that arrived after the last ``send()`` count (``since_send=False``: any).
        """

        async def probe() -> str | None:
            texts = await self.bot_texts()
            start = self._mark if since_send else 0
            return next((t for t in reversed(texts[start:]) if substring in t), None)

        return await self._poll(probe, timeout, f"bot message containing {substring!r}")

    async def wait_for_card_text(self, substring: str, timeout: float = 15.0) -> str:
        """Wait for any Adaptive Card in the chat to contain ``substring`` (e.g. after a card refresh)."""

        async def probe() -> str | None:
            return next((t for t in reversed(await self.card_texts()) if substring in t), None)

        return await self._poll(probe, timeout, f"card containing {substring!r}")

    async def click_card_button(self, title: str, *, timeout: float = 15.0) -> None:
        """Click the newest Adaptive Card action button titled ``title`` (Action.Execute / Submit / ...)."""
        button = self.page.locator(CARD_BUTTON.format(title=json.dumps(title))).last
        await button.wait_for(state="visible", timeout=timeout * 1000)
        await button.click(timeout=timeout * 1000)

    async def choose_and_apply(self, instance: str, label: str, *, timeout: float = 15.0) -> None:
        """On the newest warning card: pick the option starting with `label` in `instance`'s own choice
        input (the compact choice set whose placeholder names it), then press that instance's own Apply.

        The Playground draws a compact choice set as a Fluent combobox (`input[role=combobox]` with the
        placeholder, and a listbox of options), the plain renderer as a <select>: both are handled."""
        ms = timeout * 1000
        placeholder = f"What should happen to {instance}?"
        card = self.page.locator(CARD).last
        native = card.locator("select", has=self.page.locator(f"option:text-is({json.dumps(placeholder)})"))
        if await native.count():
            field = native.first
            option = field.locator("option", has_text=label).first
            await field.select_option(value=await option.get_attribute("value"), timeout=ms)
        else:
            field = card.locator(f"input[role=combobox][placeholder={json.dumps(placeholder)}]").first
            await field.click(timeout=ms)
            await self.page.get_by_role("option").filter(has_text=label).first.click(timeout=ms)
        row = field.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' ac-container ')][1]")
        apply = row.locator('.ac-actionSet button[aria-label="Apply"]').first
        await apply.click(timeout=ms)

    async def screenshot(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(target), full_page=True)
        return target

    async def _poll(self, probe: Any, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = await probe()
            if found is not None:
                return str(found)
            if time.monotonic() > deadline:
                texts = await self.bot_texts()
                raise PlaygroundTimeout(
                    f"no {what} after {timeout:.0f} s; bot messages on the page: {texts!r}"
                )
            await asyncio.sleep(0.1)
