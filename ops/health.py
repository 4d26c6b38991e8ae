"""Health endpoints: /healthz (the process answers) and /readyz (it can do its job)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import text

from runtime import RUNTIME, Runtime


class Running(Protocol):
    @property
    def running(self) -> bool: ...


SCHEDULER = web.AppKey("scheduler", Running)
"""Set by the composition root when this process runs the scheduler."""


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Database reachable, scheduler running, and the last curfew run with its outcome; 503 if not ready."""
    rt = request.app[RUNTIME]
    checks: dict[str, Any] = {"database": await _database(rt)}
    scheduler = request.app.get(SCHEDULER)
    checks["scheduler"] = "running" if scheduler is not None and scheduler.running else "not running"
    checks["last_curfew"] = await _last_curfew(rt)
    checks["authentication"] = (
        "on" if rt.settings.bot.authenticated else "off: MicrosoftAppId is empty, listening on 127.0.0.1 only"
    )
    ready = checks["database"] == "ok" and checks["scheduler"] == "running"
    return web.json_response(
        {"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503
    )


async def _database(rt: Runtime) -> str:
    def ping() -> None:
        with rt.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await rt.store.call(ping)
    except Exception as error:  # any failure means "not ready"; say which, without secrets
        return f"unreachable: {type(error).__name__}"
    return "ok"


async def _last_curfew(rt: Runtime) -> dict[str, Any] | None:
    try:
        record = await rt.store.call(rt.store.runs.latest, "curfew:")
    except Exception:
        return None
    if record is None:
        return None
    return {
        "schedule": record.schedule_id,
        "scheduled_for": record.scheduled_for.isoformat(),
        "state": record.state.value,
        "summary": record.summary,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }
