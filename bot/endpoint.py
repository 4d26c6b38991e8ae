"""The Bot Framework endpoint (filled in by the chat issue)."""

from __future__ import annotations

from aiohttp import web


def add_bot_routes(app: web.Application) -> None:
    return None
