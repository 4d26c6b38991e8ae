"""Repository tests, run on SQLite and on PostgreSQL alike (the `store` fixture is parametrized)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from domain.model import InstanceKey, KeepOnState, MorningStart
from storage.db import upgrade
from storage.ledger import RunState
from storage.models import InstanceLifeRow, KeepOnRow
from storage.repositories import AuditEvent, ConversationRef, NewKeepOn, Store, in_force_for, in_force_within
from storage.requests_repo import ComputeRequest
from storage.warnings_repo import NewWarning

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
KEY = InstanceKey("team-a", "GPU-ci")


def keep(state: KeepOnState = KeepOnState.ACTIVE, hours: int = 5, name: str = "gpu-ci") -> NewKeepOn:
    return NewKeepOn(
        "team-a",
        name,
        "owner-1",
        NOW,
        NOW + timedelta(hours=hours),
        "training",
        "owner-1",
        "Dana",
        state,
        in_force_until=NOW + timedelta(hours=1),
    )


def test_migrations_are_idempotent_and_create_every_table(store: Store) -> None:
    upgrade(store.engine)
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "keep_on",
        "conversation_ref",
        "audit_event",
        "compute_request",
        "scheduled_run",
        "morning_start",
        "sim_instance",
        "sim_job",
        "alembic_version",
    } <= tables


def test_keep_ons_in_force_read_in_a_session_see_its_unflushed_rows(store: Store) -> None:
    # in_force_within reads Core rows (no ORM autoflush of its own): the session's own pending rows count
    with store.sessions.begin() as session:
        session.add(
            KeepOnRow(
                workspace="team-a",
                instance="gpu-ci",
                owner_object_id="o",
                starts_at=NOW,
                until=NOW + timedelta(hours=2),
                reason="r",
                created_by="o",
                created_by_name="Dana",
                created_at=NOW,
                state=KeepOnState.ACTIVE.value,
                stop_at_end=False,
            )
        )
        assert [k.until for k in in_force_within(session, NOW, [KEY])] == [NOW + timedelta(hours=2)]
        assert [k.instance for k in in_force_within(session, NOW)] == ["gpu-ci"]
        session.add(
            InstanceLifeRow(
                workspace="team-a",
                instance="gpu-ci",
                end_date=NOW.date(),
                ends_at=NOW + timedelta(hours=1),
                kept=False,
                set_by="o",
                updated_at=NOW,
            )
        )
        # clamped to the instance's end, read in the same session before any flush
        assert [k.until for k in in_force_within(session, NOW, [KEY])] == [NOW + timedelta(hours=1)]
    assert [k.until for k in store.keep_ons.in_force(NOW, [KEY])] == [NOW + timedelta(hours=1)]
    assert store.keep_ons.in_force(NOW, [InstanceKey("team-b", "gpu-ci")]) == []
    assert store.keep_ons.in_force(NOW + timedelta(hours=1), [KEY]) == []


def test_keep_on_round_trip_keeps_aware_instants(store: Store) -> None:
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    added = store.keep_ons.add(
        NewKeepOn(
            "team-a", "GPU-ci", "o", berlin, berlin + timedelta(days=1), "r", "o", None, KeepOnState.ACTIVE
        ),
        NOW,
    )
    got = store.keep_ons.get(added.id)
    assert got is not None
    assert got.starts_at == NOW and got.starts_at.tzinfo is not None
    assert got.instance == "gpu-ci"  # names match case-insensitively


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"):
        store.keep_ons.add(
            NewKeepOn(
                "w", "i", None, datetime(2026, 1, 1), datetime(2026, 1, 2), "", "x", None, KeepOnState.ACTIVE
            ),
            NOW,
        )


def test_in_force_release_and_expire(store: Store) -> None:
    a = store.keep_ons.add(keep(), NOW)
    store.keep_ons.add(keep(hours=1, name="other-ci"), NOW)
    assert [k.id for k in store.keep_ons.in_force(NOW, [KEY])] == [a.id]
    assert store.keep_ons.in_force(NOW, []) == []
    assert len(store.keep_ons.in_force(NOW)) == 2
    assert store.keep_ons.expire(NOW + timedelta(hours=2)) == 1  # other-ci ended
    assert store.keep_ons.release(KEY, "owner-1", NOW + timedelta(hours=2)) == 1
    assert store.keep_ons.in_force(NOW + timedelta(hours=2)) == []
    released = store.keep_ons.get(a.id)
    assert released is not None and released.state is KeepOnState.RELEASED


def test_the_sweeps_one_instance_recheck_reads_as_the_general_one(store: Store) -> None:
    a = store.keep_ons.add(keep(), NOW)
    pending = store.keep_ons.add(keep(KeepOnState.PENDING_APPROVAL, hours=3), NOW)
    store.keep_ons.add(keep(hours=1, name="other-ci"), NOW)
    store.keep_ons.add(
        NewKeepOn("team-b", "gpu-ci", "o", NOW, NOW + timedelta(hours=5), "r", "o", None, KeepOnState.ACTIVE),
        NOW,
    )
    with store.sessions() as session:
        one = in_force_for(session, NOW, KEY)  # KEY's name is "GPU-ci": names match in any case
        assert [k.id for k in one] == [a.id, pending.id]
        assert one == in_force_within(session, NOW, [KEY])
        assert [k.id for k in in_force_for(session, NOW + timedelta(hours=4), KEY)] == [a.id]
        assert in_force_for(session, NOW, InstanceKey("team-a", "nobody-ci")) == []


def test_a_pending_exception_is_decided_once(store: Store) -> None:
    pending = store.keep_ons.add(keep(KeepOnState.PENDING_APPROVAL, hours=100), NOW)
    approved = store.keep_ons.decide(pending.id, KeepOnState.ACTIVE, "approver", NOW)
    assert approved is not None and approved.state is KeepOnState.ACTIVE
    assert store.keep_ons.decide(pending.id, KeepOnState.REJECTED, "approver-2", NOW) is None


def test_conversation_references_are_idempotent(store: Store) -> None:
    ref = ConversationRef("aad-1", "tenant-1", "Dana", {"conversation": {"id": "c1"}}, "Europe/Berlin", NOW)
    assert store.conversations.upsert(ref) is True
    assert store.conversations.upsert(ref) is False
    newer = ConversationRef(
        "aad-1", "tenant-1", None, {"conversation": {"id": "c2"}}, None, NOW + timedelta(1)
    )
    store.conversations.upsert(newer)
    got = store.conversations.get("aad-1", "tenant-1")
    assert got is not None
    assert got.reference == {"conversation": {"id": "c2"}}
    assert (got.user_name, got.local_timezone) == ("Dana", "Europe/Berlin")  # not erased by a sparse event
    assert store.conversations.get("aad-2") is None


def test_the_latest_reference_of_any_tenant_and_the_reads_by_key(store: Store) -> None:
    # these reads run from statements built once, as Core rows (every proactive message makes them)
    older = ConversationRef("aad-3", "tenant-1", "Dana", {"conversation": {"id": "old"}}, None, NOW)
    newer = ConversationRef(
        "aad-3", "tenant-2", "Dana", {"conversation": {"id": "new"}}, None, NOW + timedelta(1)
    )
    store.conversations.upsert(older)
    store.conversations.upsert(newer)
    latest = store.conversations.get("aad-3")
    assert latest is not None and (latest.tenant_id, latest.reference) == (
        "tenant-2",
        {"conversation": {"id": "new"}},
    )
    in_one = store.conversations.get("aad-3", "tenant-1")
    assert in_one is not None and in_one.reference == {"conversation": {"id": "old"}}
    assert store.conversations.get("aad-3", "tenant-3") is None
    added = store.keep_ons.add(keep(), NOW)
    got = store.keep_ons.get(added.id)
    assert got is not None and (got.id, got.instance, got.until) == (
        added.id,
        "gpu-ci",
        NOW + timedelta(hours=5),
    )
    assert store.keep_ons.get(added.id + 1) is None
    store.life.set_end(KEY, NOW.date(), NOW + timedelta(hours=3), "o", NOW)
    end = store.life.get(KEY)
    assert end is not None and end.end == NOW.date()
    store.life.deleted(KEY, NOW)
    assert store.life.get(KEY) is None


def test_audit_trail_is_append_only_and_newest_first(store: Store) -> None:
    for minute in range(12):
        store.audit.record(
            AuditEvent(
                NOW + timedelta(minutes=minute), "curfew", "stop", "stopped", f"n{minute}", "team-a", "GPU-CI"
            )
        )
    latest = store.audit.for_instance(KEY)
    assert len(latest) == 10
    assert [e.reason for e in latest[:2]] == ["n11", "n10"]
    assert len(store.audit.since(NOW + timedelta(minutes=10))) == 2
    assert not hasattr(store.audit, "delete") and not hasattr(store.audit, "update")


def test_the_run_ledger_claims_exactly_once(store: Store) -> None:
    slot = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    first = store.runs.claim("curfew:team-a", slot, "replica-1", NOW)
    assert first is not None and not first.resumed
    assert store.runs.claim("curfew:team-a", slot, "replica-2", NOW) is None
    assert store.runs.claim("curfew:team-b", slot, "replica-2", NOW) is not None
    store.runs.finish(first, RunState.DONE, "3 stopped", NOW)
    assert store.runs.claim("curfew:team-a", slot, "replica-3", NOW + timedelta(hours=1)) is None
    record = store.runs.get("curfew:team-a", slot)
    assert record is not None and record.state is RunState.DONE and record.summary == "3 stopped"


def test_a_run_abandoned_half_way_is_taken_over_after_the_lease(store: Store) -> None:
    slot = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    dead = store.runs.claim("curfew:team-a", slot, "crashed", NOW)
    assert dead is not None
    lease = timedelta(minutes=3)
    assert store.runs.claim("curfew:team-a", slot, "restarted", NOW + timedelta(minutes=1), lease) is None
    assert [r.claimed_by for r in store.runs.unfinished(NOW + timedelta(minutes=4), lease)] == ["crashed"]
    taken = store.runs.claim("curfew:team-a", slot, "restarted", NOW + timedelta(minutes=4), lease)
    assert taken is not None and taken.resumed and taken.attempts == 2
    assert store.runs.claim("curfew:team-a", slot, "third", NOW + timedelta(minutes=4), lease) is None
    assert store.runs.heartbeat(dead, NOW + timedelta(minutes=5)) is False  # the old owner lost it
    assert store.runs.heartbeat(taken, NOW + timedelta(minutes=5)) is True


def add_request(store: Store, state: str, session: Session | None = None) -> ComputeRequest:
    """Dana's request for a GPU instance in team-a, in `state`."""
    return store.requests.add(
        session=session,
        requester_object_id="u1",
        requester_tenant_id="t",
        requester_name="Dana",
        workspace="team-a",
        name="new-ci",
        size="Standard_NC6s_v3",
        purpose="training",
        morning_start=False,
        state=state,
        created_at=NOW,
        updated_at=NOW,
        cards=[],
    )


def test_compute_requests_transition_first_decision_wins(store: Store) -> None:
    req = add_request(store, "pending")
    assert store.requests.count("u1", ["pending"]) == 1
    won = store.requests.transition(req.id, ["pending"], "approved", NOW, decided_by="a1")
    assert won is not None and won.decided_by == "a1"
    assert store.requests.transition(req.id, ["pending"], "rejected", NOW, decided_by="a2") is None
    assert [r.state for r in store.requests.for_requester("u1")] == ["approved"]


def test_card_copies_are_added_only_to_the_request_as_it_was_seen(store: Store) -> None:
    """The approval cards' copies are added by a compare-and-set on the request as read before they
    went out: a request decided, or given other copies, since then is left as it is (None)."""
    seen = add_request(store, "pending")
    first, second = [{"aad": "a1", "activity_id": "1:1"}], [{"aad": "a2", "activity_id": "1:2"}]
    later = NOW + timedelta(minutes=1)
    with store.sessions.begin() as session:
        saved = store.requests.add_cards(seen, first, later, session=session)
    assert (
        saved is not None and saved.cards == first and saved.state == "pending" and saved.updated_at == later
    )
    with store.sessions.begin() as session:  # `seen` is stale now: it has no copy yet
        assert store.requests.add_cards(seen, second, later, session=session) is None
    with store.sessions.begin() as session:
        again = store.requests.add_cards(saved, second, later + timedelta(seconds=1), session=session)
    assert again is not None and again.cards == first + second
    decided = store.requests.transition(seen.id, ["pending"], "approved", later + timedelta(seconds=2))
    with store.sessions.begin() as session:  # decided since `again` was read
        assert store.requests.add_cards(again, [], later, session=session) is None
    assert decided is not None and store.requests.get(seen.id) == decided


def test_a_request_moved_within_a_transaction_reads_as_moved_in_it(store: Store) -> None:
    """The transition is a Core UPDATE ... RETURNING: neither an ORM copy of the row the session holds
    nor a later read in the same transaction may show the state from before."""
    from storage.models import ComputeRequestRow

    with store.sessions.begin() as session:
        req = add_request(store, "requested", session=session)
        held = session.get(ComputeRequestRow, req.id)  # held: the session keeps this copy
        assert held is not None and held.state == "requested"
        copies = [{"aad": "a1", "activity_id": "1:1"}]
        moved = store.requests.transition(
            req.id, ["requested"], "pending", NOW + timedelta(minutes=1), session=session, cards=copies
        )
        assert moved is not None and moved.state == "pending" and moved.cards == copies
        assert moved.updated_at == NOW + timedelta(minutes=1)
        assert store.requests.get(req.id, session=session) == moved
        assert session.get(ComputeRequestRow, req.id) is held
        assert held.state == "pending" and held.cards == copies
        assert store.requests.transition(req.id, ["requested"], "rejected", NOW, session=session) is None
    assert store.requests.get(req.id) == moved
    assert store.requests.get(req.id + 1) is None


def test_morning_start_preferences(store: Store) -> None:
    from datetime import time

    store.mornings.set(MorningStart("team-a", "GPU-ci", True, time(7, 30)), "u1", NOW)
    store.mornings.set(MorningStart("team-a", "gpu-ci", False, None), "u1", NOW)
    assert store.mornings.all() == [MorningStart("team-a", "gpu-ci", False, None)]


def test_warnings_are_stored_under_unguessable_ids_and_pruned_a_month_after_their_curfew(
    store: Store,
) -> None:
    keys = (InstanceKey("team-a", "gpu-ci"), InstanceKey("team-b", "GPU-ci"))
    old = store.warnings.add(
        [NewWarning("owner-1", NOW - timedelta(days=40), keys[:1])], NOW - timedelta(days=40)
    )
    a, b = store.warnings.add(
        [
            NewWarning("owner-1", NOW + timedelta(hours=1), keys),
            NewWarning(None, NOW + timedelta(hours=1), ()),
        ],
        NOW,
    )
    assert a.id != b.id and len(a.id) >= 24 and not a.id.isdigit()
    got = store.warnings.get(a.id)
    assert got == a and got.curfew_at == NOW + timedelta(hours=1) and got.curfew_at.tzinfo is not None
    assert got.lists(InstanceKey("team-b", "gpu-ci")) and not got.lists(InstanceKey("team-c", "gpu-ci"))
    assert store.warnings.get(old[0].id) is None  # pruned when the next warnings were stored
    for forged in ("", "x" * 500, 7, None, {"id": a.id}, [a.id], a.id.upper()):
        assert store.warnings.get(forged) is None


def test_an_unchanged_conversation_reference_costs_no_statement_and_a_changed_one_is_written(
    store: Store,
) -> None:
    from sqlalchemy import event

    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    ref = ConversationRef("aad-9", "tenant-1", "Ada", {"conversation": {"id": "c1"}}, "Europe/Berlin", NOW)
    assert store.conversations.upsert(ref) is True
    written = len(statements)
    assert written >= 1
    later = ConversationRef(
        "aad-9", "tenant-1", "Ada", {"conversation": {"id": "c1"}}, None, NOW + timedelta(minutes=1)
    )
    assert store.conversations.known_unchanged(later)
    assert store.conversations.upsert(later) is False
    assert len(statements) == written  # remembered: no read, no write
    moved = ConversationRef(
        "aad-9", "tenant-1", None, {"conversation": {"id": "c2"}}, None, NOW + timedelta(minutes=2)
    )
    assert not store.conversations.known_unchanged(moved)
    store.conversations.upsert(moved)
    assert len(statements) > written
    got = store.conversations.get("aad-9", "tenant-1")
    assert got is not None and got.reference == {"conversation": {"id": "c2"}} and got.user_name == "Ada"
    # memory is trusted only briefly: a while later the database is read again
    much_later = ConversationRef(
        "aad-9", "tenant-1", None, {"conversation": {"id": "c2"}}, None, NOW + timedelta(minutes=30)
    )
    assert not store.conversations.known_unchanged(much_later)


def test_one_owners_simulated_instances_are_read_through_the_owner_indexes(sqlite_store: Store) -> None:
    """SQLite's plan for chat's read of one person's instances, and for the due transitions."""
    import asyncio

    from sqlalchemy import event

    from compute.simulated import SimulatedFleet, demo_workspace

    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, *_: object) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "sim_instance" in statement:
            plans.append(
                " ".join(
                    str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                )
            )

    fleet = SimulatedFleet(sqlite_store, demo_workspace("Europe/Berlin"))
    fleet.seed_demo()
    event.listen(sqlite_store.engine, "before_cursor_execute", explain)
    mine = asyncio.run(fleet.recent_instances(owner="00000000-0000-0000-0000-0000000000AA"))
    assert mine == []  # nobody by that id in the demo
    assert any("ix_sim_instance_transition_at" in p for p in plans), plans
    assert any("ix_sim_instance_owner" in p and "ix_sim_instance_creator" in p for p in plans), plans
