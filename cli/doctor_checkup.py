"""What `doctor`'s checks share: the findings (one line each) and the parts opened on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from compute.port import Fleet
from config.settings import Settings
from storage.repositories import Store


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, what: str) -> None:
        self.lines.append(f"ok    {what}")

    def warn(self, what: str) -> None:
        self.lines.append(f"warn  {what}")

    def fail(self, what: str) -> None:
        self.lines.append(f"FAIL  {what}")
        self.problems += 1


@dataclass
class Checkup:
    """What the checks share: the settings, the findings, and the store once `database` opened it."""

    settings: Settings
    found: Findings
    now: datetime
    store: Store | None = None
    schema_ready: bool = False
    """The database's schema is at the latest migration (else its tables may be missing)."""
    fleet: Fleet | None = None
