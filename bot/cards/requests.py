"""Cards for compute-instance requests and approvals, built by pure functions from plain values.

The request form, the approval card an approver decides on, its decided versions, the keep-on approval
card and `my requests`. Buttons are Action.Execute with an Action.Submit fallback carrying the same
data; the data names the request, never a person: who clicked is the Teams-authenticated sender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cards.basics import Card, card, facts, heading, paragraph
from domain.limits import REASON_MAX
from domain.requests import NAME_RULE, PURPOSE_MAX

SUBMIT, APPROVE, REJECT, RETRY = "request_submit", "request_approve", "request_reject", "request_retry"
KEEP_APPROVE, KEEP_REJECT = "keep_approve", "keep_reject"

SIZES: Mapping[str, tuple[int, int, str]] = {
    "Standard_DS11_v2": (2, 14, ""),
    "Standard_DS3_v2": (4, 14, ""),
    "Standard_DS12_v2": (4, 28, ""),
    "Standard_D4s_v3": (4, 16, ""),
    "Standard_DS4_v2": (8, 28, ""),
    "Standard_E4ds_v4": (4, 32, ""),
    "Standard_NC4as_T4_v3": (4, 28, "1 T4"),
    "Standard_NC6s_v3": (6, 112, "1 V100"),
    "Standard_NC12s_v3": (12, 224, "2 V100"),
    "Standard_NC24ads_A100_v4": (24, 220, "1 A100"),
}
"""Known Azure VM sizes: cores, memory in GB, GPUs."""


def size_details(size: str) -> str:
    """ "6 cores, 112 GB, 1 V100 GPU" or "size details unknown"."""
    known = SIZES.get(size)
    if known is None:
        return "size details unknown"
    cores, memory, gpus = known
    return f"{cores} cores, {memory} GB" + (f", {gpus} GPU" if gpus else "")


def preselect(hint: str | None, sizes: Sequence[str]) -> str | None:
    """The allowed size that fits a hint from chat ("gpu", "large", a VM size), if any."""
    if not hint or not sizes:
        return None
    exact = {s.lower(): s for s in sizes}
    if hint.lower() in exact:
        return exact[hint.lower()]
    words = set(hint.lower().split())
    by_cores = sorted(sizes, key=lambda s: SIZES.get(s, (0, 0, ""))[0])
    gpu = [s for s in by_cores if SIZES.get(s, (0, 0, ""))[2]]
    cpu = [s for s in by_cores if s not in gpu]
    pool = gpu if "gpu" in words else cpu if "cpu" in words else by_cores
    if not pool:
        return None
    if words & {"large", "big", "bigger", "larger"}:
        return pool[-1]
    if "medium" in words:
        return pool[len(pool) // 2]
    return pool[0]


def execute(title: str, verb: str, data: Mapping[str, Any], *, style: str | None = None) -> dict[str, Any]:
    """Action.Execute, falling back to Action.Submit with the same data on older clients."""
    payload = {"curfew": True, "verb": verb, **data}
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": payload}
    if style:
        action["style"] = style
    action["fallback"] = {"type": "Action.Submit", "title": title, "data": payload}
    return action


def _error(errors: Mapping[str, str], field: str) -> list[dict[str, Any]]:
    if field not in errors:
        return []
    return [
        {"type": "TextBlock", "text": errors[field], "color": "Attention", "wrap": True, "spacing": "None"}
    ]


def _choices(id_: str, label: str, options: Sequence[tuple[str, str]], value: str) -> dict[str, Any]:
    choices = [{"title": title, "value": v} for title, v in options]
    return {"type": "Input.ChoiceSet", "id": id_, "label": label, "style": "compact", "isRequired": True} | {
        "errorMessage": f"Choose a {label.lower()}",
        "choices": choices,
        "value": value,
    }


def _text(id_: str, label: str, value: str, **more: Any) -> dict[str, Any]:
    return {"type": "Input.Text", "id": id_, "label": label, "isRequired": True, "value": value, **more}


@dataclass(frozen=True, slots=True)
class FormView:
    workspaces: Sequence[str]
    sizes: Sequence[tuple[str, bool]]
    """(size, auto_approve) in the allow-list's order."""
    values: Mapping[str, str]
    """What the form showed or the requester typed: workspace, name, size, purpose, morning_start."""
    errors: Mapping[str, str]
    prices: Sequence[tuple[str, Sequence[tuple[str, str]]]] = ()
    """(where, [(size, its price per hour and per month)]) for each price list the workspaces use."""
    ends: EndField | None = None
    """The project's end date field (`lifecycle:`), or None for a form without one."""


@dataclass(frozen=True, slots=True)
class EndField:
    required: bool
    earliest: str
    """Today, ISO: the date input's minimum."""
    grace_days: int


def _end_field(view: FormView) -> list[dict[str, Any]]:
    if view.ends is None:
        return []
    e = view.ends
    field: dict[str, Any] = {
        "type": "Input.Date",
        "id": "end_date",
        "label": f"Project end date: it is stopped then, deleted {e.grace_days} days later",
        "isRequired": e.required,
        "errorMessage": "Pick the project's end date",
        "min": e.earliest,
    }
    if view.values.get("end_date"):
        field["value"] = view.values["end_date"]
    return [field, *_error(view.errors, "end_date")]


def _price_blocks(view: FormView) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for where, lines in view.prices:
        blocks.append(paragraph(f"**What each size costs** {where}"))
        blocks += [paragraph(f"{size}: {text}", subtle=True) for size, text in lines]
    return blocks


def request_form_card(view: FormView) -> Card:
    """The request form; after a failed submit, the same form with each mistake beside its field."""
    v = view.values
    sizes = [
        (f"{s}: {size_details(s)}" + (" (no approval needed)" if auto else ""), s) for s, auto in view.sizes
    ]
    rule = "3 to 24 letters, digits or hyphens, starting with a letter"
    fields = [
        _choices("workspace", "Workspace", [(w, w) for w in view.workspaces], v.get("workspace", "")),
        _text(
            "name", "Name", v.get("name", ""), placeholder=rule, regex=NAME_RULE.pattern, errorMessage=rule
        ),
        _choices("size", "Size", sizes, v.get("size", "")),
        _text(
            "purpose",
            "Purpose",
            v.get("purpose", ""),
            isMultiline=True,
            maxLength=PURPOSE_MAX,
            errorMessage="Say what it is for",
        ),
    ]
    body: list[dict[str, Any]] = [heading("Request a compute instance"), *_error(view.errors, "quota")]
    for field in fields:
        body += [field, *_error(view.errors, field["id"])]
        if field["id"] == "size":
            body += _price_blocks(view)
    body += _end_field(view)
    toggle = {"type": "Input.Toggle", "id": "morning_start", "title": "Start it on weekday mornings"}
    body.append(toggle | {"valueOn": "true", "valueOff": "false", "value": v.get("morning_start", "false")})
    return card(*body, actions=[execute("Send request", SUBMIT, {})])


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as the approvers see it."""

    id: int
    requester: str
    workspace: str
    name: str
    size: str
    purpose: str
    instances: Sequence[tuple[str, str, str]] = ()
    """The requester's current instances: (name, size, state)."""
    price: str | None = None
    """The size's price per hour: "USD 3.06/h (simulated)"."""
    monthly: str | None = None
    """Its cost if left on around the clock for a month (730 h)."""
    ends: str | None = None
    """The project's end date, "Fri 18 Dec 2026"."""


def _request_facts(view: RequestView) -> dict[str, Any]:
    money = [("Price", view.price)] if view.price else []
    money += [("If never stopped", view.monthly)] if view.monthly else []
    return facts(
        [
            ("Requested by", view.requester),
            ("Workspace", view.workspace),
            ("Name", view.name),
            ("Size", f"{view.size} ({size_details(view.size)})"),
            *money,
            ("Purpose", view.purpose),
            *([("Ends", view.ends)] if view.ends else []),
        ]
    )


def _comment_box() -> dict[str, Any]:
    label = "Comment (sent to the requester)"
    return _text("comment", label, "", isRequired=False, isMultiline=True, maxLength=REASON_MAX)


def approval_card(view: RequestView) -> Card:
    """What an approver decides on: the request, the requester's instances, Approve and Reject."""
    owned = [paragraph(f"{n} · {s} · {state}", subtle=True) for n, s, state in view.instances]
    current = owned or [paragraph("none", subtle=True)]
    data = {"request": view.id}
    return card(
        heading(f"{view.requester} asks for a compute instance"),
        _request_facts(view),
        paragraph(f"**Current instances of {view.requester}** ({len(view.instances)})"),
        *current,
        _comment_box(),
        actions=[
            execute("Approve", APPROVE, data, style="positive"),
            execute("Reject", REJECT, data, style="destructive"),
        ],
    )


def with_notice(shown: Card, notice: str) -> Card:
    """`shown` with a highlighted notice on top (why a click changed nothing, who decided first)."""
    block = {"type": "TextBlock", "text": notice, "wrap": True, "color": "Accent", "weight": "Bolder"}
    return {**shown, "body": [block, *shown["body"]]}


def decided_line(approved: bool, by: str, comment: str | None) -> str:
    """ "Approved by Alex" / "Rejected by Alex: too big for a notebook"."""
    said = f": {comment}" if comment else ""
    return f"{'Approved' if approved else 'Rejected'} by {by}{said}"


def request_outcome_card(view: RequestView, headline: str, detail: str = "", *, retry: bool = False) -> Card:
    """A request after something happened to it (decided, creating, ready, failed, expired)."""
    body = [heading(headline), _request_facts(view), *([paragraph(detail)] if detail else [])]
    actions = [execute("Retry creation", RETRY, {"request": view.id})] if retry else []
    return card(*body, actions=actions)


@dataclass(frozen=True, slots=True)
class KeepView:
    """A keep-on exception that waits for an approver."""

    id: int
    requester: str
    workspace: str
    name: str
    until: str
    in_force_until: str
    reason: str


def _keep_facts(view: KeepView) -> dict[str, Any]:
    return facts(
        [
            ("Asked by", view.requester),
            ("Instance", f"{view.name} ({view.workspace})"),
            ("Keep on until", view.until),
            ("Kept meanwhile until", view.in_force_until),
            ("Reason", view.reason or "none given"),
        ]
    )


def keep_approval_card(view: KeepView) -> Card:
    data = {"request": view.id}
    return card(
        heading(f"{view.requester} asks to keep {view.name} on"),
        _keep_facts(view),
        _comment_box(),
        actions=[
            execute("Approve", KEEP_APPROVE, data, style="positive"),
            execute("Reject", KEEP_REJECT, data, style="destructive"),
        ],
    )


def keep_decided_card(view: KeepView, headline: str) -> Card:
    return card(heading(headline), _keep_facts(view))


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    what: str
    """ "gpu-ci2 (demo), Standard_NC6s_v3" or "keep gpu-ci (demo) on"."""
    state: str
    when: str
    note: str = ""


def my_requests_card(rows: Sequence[RequestRow]) -> Card:
    if not rows:
        return card(
            heading("You have no requests"),
            paragraph("Say `request an instance` to ask for a compute instance."),
        )
    body: list[dict[str, Any]] = [heading(f"Your requests ({len(rows)})")]
    for row in rows:
        line = f"**#{row.id}** {row.what}: **{row.state}** · {row.when}"
        body.append(paragraph(line + (f"  \n{row.note}" if row.note else "")))
    return card(*body)
