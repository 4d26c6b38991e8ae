"""Traces and metrics to Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def configure_telemetry(environ: dict[str, str] | None = None) -> bool:
    """Send OpenTelemetry traces and metrics (ops/metrics.py) to Application Insights; True if on."""
    env = os.environ if environ is None else environ
    connection = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if not connection:
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=connection, logger_name="curfew")
    log.info("telemetry to Azure Monitor is on")  # never log the connection string: it holds a key
    return True
