"""Logging, configured once at start: plain lines, or JSON when LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime

_SECRET = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+|((?:password|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',]+"
)


def redact(text: str) -> str:
    """Mask bearer tokens and password/secret/token values that slipped into a message."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    fmt = fmt or os.environ.get("LOG_FORMAT", "text")
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "azure.core.pipeline.policies.http_logging_policy",
        "azure",
        "msal",
        "urllib3",
        "apscheduler",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
