"""doctor's idle-shutdown check: per workspace, the instances without Azure's idle shutdown, those over
`idle_shutdown.max_minutes`, and own schedules that start an instance while the curfew keeps it off.
Warnings, not failures: the daily pass (or `python app.py idle`) fixes the first two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from config.settings import Settings
from domain.idle import minutes_text, outside_policy, schedule_conflicts
from domain.model import Instance


def check_idle_shutdown(
    settings: Settings, alias: str, instances: Sequence[Instance], now: datetime, warn: Callable[[str], None]
) -> int:
    """Warn about each finding through `warn`; how many there were."""
    policy = settings.idle_policy(alias)
    none = [i.name for i in instances if i.idle_shutdown_minutes is None]
    over = [
        f"{i.name} ({minutes_text(i.idle_shutdown_minutes)})"
        for i in instances
        if i.idle_shutdown_minutes is not None and outside_policy(i, policy)
    ]
    lines = []
    if none:
        lines.append(f"workspace {alias}: without idle shutdown: {', '.join(none)}")
    if over:
        lines.append(
            f"workspace {alias}: idle shutdown over {minutes_text(policy.max_minutes)}: {', '.join(over)}"
        )
    if lines:
        lines[-1] += " (`python app.py idle` sets them now)"
    for i in instances:
        lines += [
            f"workspace {alias}: {i.name}: {c}"
            for c in schedule_conflicts(i, settings.policy(alias), (), now)
        ]
    for line in lines:
        warn(line)
    return len(lines)
