"""Counters for operators (OpenTelemetry): curfews run, instances stopped, left on, failed, warnings
sent and undeliverable. Without an exporter configured they cost next to nothing; with
APPLICATIONINSIGHTS_CONNECTION_STRING set they go to Azure Monitor (ops/telemetry.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Meter


@dataclass
class CurfewMetrics:
    runs: Counter
    instances: Counter
    warnings: Counter

    @classmethod
    def on(cls, meter: Meter) -> CurfewMetrics:
        return cls(
            runs=meter.create_counter("curfew.runs", description="curfew, warning and morning runs done"),
            instances=meter.create_counter(
                "curfew.instances", description="instances by run kind and outcome (stopped, left, failed...)"
            ),
            warnings=meter.create_counter(
                "curfew.warnings", description="warnings by delivery (sent, unreachable, failed)"
            ),
        )

    def run(self, kind: str, outcomes: Iterable[str]) -> None:
        self.runs.add(1, {"kind": kind})
        for outcome in outcomes:
            self.instances.add(1, {"kind": kind, "outcome": outcome})

    def warned(self, deliveries: Iterable[str]) -> None:
        for delivery in deliveries:
            self.warnings.add(1, {"delivery": delivery})


_current: CurfewMetrics | None = None


def curfew_metrics() -> CurfewMetrics:
    """The process's counters, on the global meter provider (set by ops/telemetry.py when configured)."""
    global _current
    if _current is None:
        _current = CurfewMetrics.on(metrics.get_meter("curfew"))
    return _current


def use_meter(meter: Meter) -> CurfewMetrics:
    """Point the counters at another meter (tests read them through an in-memory reader)."""
    global _current
    _current = CurfewMetrics.on(meter)
    return _current
