"""What happened to each instance in a run, and the run's report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from domain.decide import Action, Decision, RunKind
from domain.model import Instance, InstanceState
from storage.repositories import AuditEvent


class OutcomeKind(StrEnum):
    STOPPED = "stopped"
    ALREADY_STOPPED = "already stopped"
    STARTED = "started"
    ALREADY_RUNNING = "already running"
    LEFT = "left"
    WOULD_STOP = "would stop"
    WOULD_START = "would start"
    FAILED = "failed"


_SUCCESS = frozenset(OutcomeKind) - {OutcomeKind.FAILED}


@dataclass(slots=True)
class Outcome:
    decision: Decision
    kind: OutcomeKind
    detail: str = ""

    @property
    def instance(self) -> Instance:
        return self.decision.instance

    @property
    def ok(self) -> bool:
        return self.kind in _SUCCESS

    def failed(self, detail: str) -> Outcome:
        return replace(self, kind=OutcomeKind.FAILED, detail=detail)

    @classmethod
    def workspace_failed(cls, alias: str, error: str) -> Outcome:
        ghost = Instance(alias, "(workspace)", "", InstanceState.UNKNOWN)
        return cls(
            Decision(ghost, Action.LEAVE, "could not read the workspace", None), OutcomeKind.FAILED, error
        )


def unexpected(doing: str, error: BaseException) -> str:
    """The reason shown for an error of a type nobody planned for: what failed, and what to do."""
    return (
        f"{doing} failed unexpectedly ({type(error).__name__}: {str(error)[:200]}); "
        "the rest of the run went on; if it happens again, send Curfew's log to its maintainers"
    )


def replace_outcome(outcomes: list[Outcome], outcome: Outcome) -> None:
    """Put `outcome` in place of the outcome of the same decision in `outcomes`."""
    for index, existing in enumerate(outcomes):
        if existing.decision is outcome.decision:
            outcomes[index] = outcome


@dataclass
class RunReport:
    kind: RunKind
    run_id: str
    started_at: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    finished_at: datetime | None = None
    dry_run: bool = False

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def count(self, kind: OutcomeKind) -> int:
        return sum(1 for o in self.outcomes if o.kind is kind)

    def summary(self) -> str:
        counts = Counter(o.kind.value for o in self.outcomes)
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing to do"
        seconds = (self.finished_at - self.started_at).total_seconds() if self.finished_at else 0.0
        dry = " (dry run)" if self.dry_run else ""
        head = f"{self.kind.value} run {self.run_id}{dry}"
        return f"{head}: {len(self.outcomes)} instances; {parts}; {seconds:.1f} s"

    def audit_events(self, actor: str) -> list[AuditEvent]:
        at = self.finished_at or self.started_at
        action = f"{self.kind.value}{' dry run' if self.dry_run else ''}"
        return [
            AuditEvent(
                at=at,
                actor=actor,
                action=action,
                outcome=o.kind.value,
                reason=o.decision.reason + (f" ({o.detail})" if o.detail else ""),
                workspace=o.instance.workspace,
                instance=o.instance.name,
                run_id=self.run_id,
            )
            for o in self.outcomes
        ]
