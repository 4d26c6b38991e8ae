"""The request lifecycle and the request form's rules, pure: one table each, invalid cases included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.requests import (
    FINAL,
    OPEN,
    FormRules,
    RequestEvent,
    RequestForm,
    RequestState,
    TransitionError,
    expires_at,
    is_expired,
    quota_used,
    sources,
    target,
    transition,
    validate,
)

S, E = RequestState, RequestEvent

ALLOWED = [
    (S.REQUESTED, E.SUBMIT, S.PENDING),
    (S.REQUESTED, E.AUTO_APPROVE, S.APPROVED),
    (S.PENDING, E.APPROVE, S.APPROVED),
    (S.PENDING, E.REJECT, S.REJECTED),
    (S.PENDING, E.EXPIRE, S.EXPIRED),
    (S.APPROVED, E.CREATE, S.CREATING),
    (S.APPROVED, E.FAIL, S.FAILED),
    (S.CREATING, E.PROVISIONED, S.READY),
    (S.CREATING, E.FAIL, S.FAILED),
    (S.FAILED, E.RETRY, S.APPROVED),
]


@pytest.mark.parametrize(("state", "event", "expected"), ALLOWED)
def test_allowed_transitions(state: RequestState, event: RequestEvent, expected: RequestState) -> None:
    assert transition(state, event) is expected


REFUSED = [
    (S.APPROVED, E.APPROVE, "This request was already approved, so I cannot approve it."),
    (S.REJECTED, E.APPROVE, "This request was already rejected, so I cannot approve it."),
    (S.APPROVED, E.REJECT, "This request was already approved, so I cannot reject it."),
    (S.READY, E.REJECT, "This request was already approved and created, so I cannot reject it."),
    (S.EXPIRED, E.APPROVE, "This request expired without a decision, so I cannot approve it."),
    (S.CREATING, E.RETRY, "This request was already approved and is being created, so I cannot retry it."),
    (S.PENDING, E.RETRY, "This request is still waiting for a decision, so I cannot retry it."),
    (S.PENDING, E.CREATE, "This request is still waiting for a decision, so I cannot create it."),
    (S.FAILED, E.APPROVE, "This request was approved, but its creation failed, so I cannot approve it."),
    (S.REQUESTED, E.APPROVE, "This request has not been sent to the approvers yet, so I cannot approve it."),
    (S.READY, E.EXPIRE, "This request was already approved and created, so I cannot expire it."),
]


@pytest.mark.parametrize(("state", "event", "message"), REFUSED)
def test_refused_transitions_say_why(state: RequestState, event: RequestEvent, message: str) -> None:
    result = transition(state, event)
    assert isinstance(result, TransitionError)
    assert (result.state, result.event, result.message) == (state, event, message)


def test_every_pair_outside_the_table_is_refused() -> None:
    allowed = {(s, e): t for s, e, t in ALLOWED}
    for state in S:
        for event in E:
            result = transition(state, event)
            if (state, event) in allowed:
                assert result is allowed[(state, event)]
            else:
                assert isinstance(result, TransitionError), (state, event)


def test_sources_and_targets_feed_the_compare_and_set() -> None:
    assert sources(E.APPROVE) == {S.PENDING}
    assert sources(E.FAIL) == {S.APPROVED, S.CREATING}
    assert target(E.RETRY) is S.APPROVED
    assert {S.REQUESTED, S.PENDING, S.APPROVED, S.CREATING} == OPEN
    assert not OPEN & FINAL and S.FAILED not in OPEN | FINAL  # a failed request can come back


def test_expiry_after_pending_days_and_naive_times_refused() -> None:
    since = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    assert expires_at(since, 7) == since + timedelta(days=7)
    assert not is_expired(since, since + timedelta(days=6, hours=23), 7)
    assert is_expired(since, since + timedelta(days=7), 7)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_expired(since, datetime(2026, 12, 9), 7)


RULES = FormRules(
    workspaces=["demo", "team-a"],
    sizes=["Standard_DS3_v2", "Standard_NC6s_v3"],
    taken=[("demo", "gpu-ci"), ("demo", "pending-one")],
    used=2,
    max_per_user=3,
)
GOOD = RequestForm("demo", "my-gpu-2", "Standard_NC6s_v3", "fine-tuning a model", True)

FORMS = [
    (GOOD, {}),
    (RequestForm("team-a", "gpu-ci", "Standard_DS3_v2", "x"), {}),  # taken in demo, free in team-a
    (
        RequestForm("abc", "Ab1", "Standard_DS3_v2", "x"),
        {"workspace": "Choose one of the workspaces offered."},
    ),
    (RequestForm("demo", "ab", "Standard_DS3_v2", "x"), {"name": "A name has 3 to 24 characters."}),
    (RequestForm("demo", "a" * 25, "Standard_DS3_v2", "x"), {"name": "A name has 3 to 24 characters."}),
    (RequestForm("demo", "1gpu", "Standard_DS3_v2", "x"), {"name": "A name starts with a letter (a to z)."}),
    (
        RequestForm("demo", "my_gpu", "Standard_DS3_v2", "x"),
        {"name": "A name has only letters, digits and hyphens."},
    ),
    (
        RequestForm("demo", "GPU-CI", "Standard_DS3_v2", "x"),
        {"name": "GPU-CI is already taken in demo; choose another name."},
    ),
    (
        RequestForm("demo", "pending-one", "Standard_DS3_v2", "x"),
        {"name": "pending-one is already taken in demo; choose another name."},
    ),
    (RequestForm("demo", "abc", "Standard_ND96", "x"), {"size": "Choose one of the sizes offered."}),
    (
        RequestForm("demo", "abc", "Standard_DS3_v2", "   "),
        {"purpose": "Say what the instance is for; the approvers decide on it."},
    ),
    (
        RequestForm("demo", "abc", "Standard_DS3_v2", "x" * 201),
        {"purpose": "The purpose may have at most 200 characters (this one has 201); please shorten it."},
    ),
    (RequestForm("demo", "abc", "Standard_DS3_v2", "x" * 200), {}),  # REASON_MAX itself is fine
]


@pytest.mark.parametrize(("form", "errors"), FORMS)
def test_form_validation(form: RequestForm, errors: dict[str, str]) -> None:
    assert validate(form, RULES) == errors


def test_several_mistakes_at_once_and_the_quota() -> None:
    full = FormRules(RULES.workspaces, RULES.sizes, RULES.taken, used=3, max_per_user=3)
    errors = validate(RequestForm("", "", "", ""), full)
    assert set(errors) == {"workspace", "name", "size", "purpose", "quota"}
    assert errors["quota"] == (
        "You already have 3 instance(s) or open request(s); the limit is 3. Delete or give up one "
        "first, or ask a workspace admin."
    )
    assert validate(GOOD, FormRules(RULES.workspaces, RULES.sizes, RULES.taken, 0, 0)).keys() == {"quota"}


def test_quota_counts_an_instance_and_its_open_request_once() -> None:
    owned = [("demo", "gpu-ci"), ("demo", "cpu-ci")]
    assert quota_used(owned, []) == 2
    assert quota_used(owned, [("demo", "new-one")]) == 3
    assert quota_used(owned, [("demo", "gpu-ci")]) == 2  # being created: already listed by Azure
