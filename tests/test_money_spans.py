"""The spans instances ran, in the database: a curfew stop ends exactly the open spans of the instances it
stopped (at the stop, or at the span's start when that came later), and leaves every other span open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import UsageSpanRow
from storage.money_repo import Seen
from storage.repositories import Store

OWNER = "00000000-0000-0000-0000-000000000020"
T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_curfew_stop_ends_exactly_the_open_spans_of_the_instances_it_stopped(store: Store) -> None:
    seen = [
        Seen("research", "gpu-ci", "Standard_NC6s_v3", OWNER, True, T0),
        Seen("research", "cpu-ci", "Standard_DS3_v2", OWNER, True, T0),
        Seen("vision", "gpu-ci", "Standard_NC6s_v3", OWNER, True, T0 + 3 * HOUR),
    ]
    store.money.observe(seen, T0 + 4 * HOUR, {"research", "vision"})

    store.money.stopped(
        [("research", "GPU-CI"), ("vision", "gpu-ci"), ("vision", "never-seen")], T0 + 2 * HOUR
    )

    columns = (
        UsageSpanRow.workspace,
        UsageSpanRow.instance,
        UsageSpanRow.stopped_at,
        UsageSpanRow.stop_exact,
    )
    with Session(store.engine) as session:
        spans = {(w, i): (stopped, exact) for w, i, stopped, exact in session.execute(select(*columns))}
    assert spans == {
        ("research", "gpu-ci"): (T0 + 2 * HOUR, True),
        ("research", "cpu-ci"): (None, False),
        ("vision", "gpu-ci"): (T0 + 3 * HOUR, True),  # it started after the stop's instant
    }
