"""The one size rule for every message Curfew sends to Teams.

Teams refuses a message over 100 KB with 413 `MessageSizeTooBig`, and it counts the bytes of the
message's UTF-16 encoding: about twice the UTF-8 bytes of ASCII JSON. Every outbound message (a reply
in a turn, a proactive message or an update through the messenger, the card an Action.Execute answer
puts in place of the clicked one) passes through here and leaves at most `MAX_MESSAGE_BYTES`, counted
that way on the JSON that goes on the wire (Python's `json.dumps`, non-ASCII escaped as msrest sends it):

- a card that can become several messages is split at its top-level body elements (each one a
  self-contained row: an instance with its own inputs and button); every part keeps the card's first
  element (its heading, numbered "(2/3)") and the card's actions;
- a message that must stay one (an update, an invoke answer), or a single element too big for a card of
  its own, is shortened: the trailing rows go, and "…and N more: say `status`" takes their place;
- a text too long is cut with the same note.

The messenger (bot/adapter/messenger.py), the turn (bot/adapter/turn.py) and the invoke answer call
`fit_for_teams` / `shorten_for_teams`; nothing else decides a message's size. (It lives in its own module
because the messenger imports the turn, and the turn must apply the same rule.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.adapter import activities as acts
from bot.turns import Reply

MAX_MESSAGE_BYTES = 80_000
"""At most 80 KB counted as Teams counts (UTF-16 bytes); Teams' own limit is 100 KB."""
TEAMS_LIMIT_BYTES = 100_000
ENVELOPE_BYTES = 4_000
"""What botbuilder adds to a message on its way (ids, names, conversation, service URL, reply-to), in
UTF-16 bytes, with room to spare: counted in every message's size."""
TABLE_SLICE = 10
"""A long table is split or shortened in slices of this many rows."""


def utf16_bytes(payload: Any) -> int:
    """The bytes of `payload`'s JSON in UTF-16, as Teams counts a message."""
    return len(json.dumps(payload).encode("utf-16-le"))


def teams_bytes(reply: Reply) -> int:
    """The size Teams counts for the message activity `reply` becomes (with botbuilder's envelope)."""
    return utf16_bytes(acts.reply_activity(reply).serialize()) + ENVELOPE_BYTES


def invoke_bytes(card: Mapping[str, Any]) -> int:
    """The size of an Action.Execute answer that puts `card` in place of the clicked one."""
    return utf16_bytes({"statusCode": 200, "type": acts.CARD_CONTENT_TYPE, "value": dict(card)})


def more_note(n: int) -> dict[str, Any]:
    return {"type": "TextBlock", "text": f"…and {n} more: say `status`", "wrap": True, "isSubtle": True}


ACTIVITY_FIELDS_BYTES = 2_000
"""What the activity itself adds around a reply's text and card (type, attachment wrapper, keys),
in UTF-16 bytes, with room to spare."""


def surely_fits(reply: Reply, limit: int) -> bool:
    """True when `reply` is certainly within `limit`, without building and serializing its activity
    (which costs as much as sending it): the card and text alone, plus generous room for the rest."""
    try:
        content = utf16_bytes([reply.text, None if reply.card is None else dict(reply.card)])
    except TypeError:  # a card json cannot write as it is: measure it the exact way
        return False
    return content + ACTIVITY_FIELDS_BYTES + ENVELOPE_BYTES <= limit


def fit_for_teams(reply: Reply, limit: int = MAX_MESSAGE_BYTES) -> list[Reply]:
    """`reply` as one or more messages of at most `limit` bytes each (split where it may be)."""
    if surely_fits(reply, limit) or teams_bytes(reply) <= limit:
        return [reply]
    if reply.card is None:
        return [replace(reply, text=_cut_text(reply, limit))]
    if reply.update_activity_id:  # an update rewrites one message: it cannot become several
        return [shorten_for_teams(reply, limit)]
    card = dict(reply.card)
    body: list[dict[str, Any]] = list(card.get("body") or [])
    head, rows = body[:1], _table_slices(body[1:])
    base = teams_bytes(replace(reply, card={**card, "body": head}))
    groups = _groups(rows, base, limit)
    parts = []
    for n, group in enumerate(groups, 1):
        titled = _numbered(head, n, len(groups))
        part = replace(reply, card=_with_body(card, [*titled, *group]), text=reply.text if n == 1 else None)
        parts.append(part if teams_bytes(part) <= limit else shorten_for_teams(part, limit))
    return parts


def shorten_for_teams(reply: Reply, limit: int = MAX_MESSAGE_BYTES) -> Reply:
    """`reply` as one message of at most `limit` bytes: trailing rows replaced by "…and N more"."""
    if reply.card is None:
        return replace(reply, text=_cut_text(reply, limit)) if teams_bytes(reply) > limit else reply
    card = _shortened(dict(reply.card), lambda c: teams_bytes(replace(reply, card=c)), limit)
    return replace(reply, card=card)


def shorten_card(card: Mapping[str, Any], limit: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The card an Action.Execute answer carries, within `limit` bytes."""
    return _shortened(dict(card), invoke_bytes, limit)


def _shortened(card: dict[str, Any], size: Any, limit: int) -> dict[str, Any]:
    if size(card) <= limit:
        return card
    body: list[dict[str, Any]] = list(card.get("body") or [])
    head, rows = body[:1], _table_slices(body[1:])
    note_cost = 2 * (len(json.dumps(more_note(len(rows)))) + 2)
    base = size({**card, "body": head}) + note_cost
    kept = _groups(rows, base, limit)[0] if rows else []
    dropped = len(rows) - len(kept)

    def build() -> dict[str, Any]:
        return _with_body(card, [*head, *kept, more_note(dropped)])

    shortened = build()
    while kept and size(shortened) > limit:  # the estimate was off (it never is by much): drop one more
        kept.pop()
        dropped += 1
        shortened = build()
    return shortened


def _groups(rows: Sequence[dict[str, Any]], base: int, limit: int) -> list[list[dict[str, Any]]]:
    """Rows in consecutive groups whose card stays within `limit` (a row too big alone: its own group).

    A row adds its JSON and the ", " before it, two bytes a character (the JSON is ASCII)."""
    groups: list[list[dict[str, Any]]] = [[]]
    used = base
    for row in rows:
        cost = 2 * (len(json.dumps(row)) + 2)
        if groups[-1] and used + cost > limit:
            groups.append([])
            used = base
        groups[-1].append(row)
        used += cost
    return groups


def _with_body(card: dict[str, Any], body: list[dict[str, Any]]) -> dict[str, Any]:
    """`card` holding only `body`, its actions fitted to what that body holds."""
    part = {**card, "body": body}
    if card.get("actions"):
        part["actions"] = _actions_for(card["actions"], body)
    return part


def _actions_for(actions: Sequence[dict[str, Any]], body: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The card's actions for one part: a ToggleVisibility only toggles the elements that part holds."""
    present = set(_ids(body))
    found = []
    for action in actions:
        if action.get("type") == "Action.ToggleVisibility":
            targets = [t for t in action.get("targetElements") or [] if _target_id(t) in present]
            if not targets:
                continue
            action = {**action, "targetElements": targets}
        found.append(action)
    return found


def _ids(node: Any) -> list[str]:
    if isinstance(node, list):
        return [i for n in node for i in _ids(n)]
    if not isinstance(node, dict):
        return []
    own = [str(node["id"])] if "id" in node else []
    return own + [i for v in node.values() for i in _ids(v)]


def _target_id(target: Any) -> str:
    return str(target.get("elementId")) if isinstance(target, dict) else str(target)


def _table_slices(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows, with each long Table cut into tables of `TABLE_SLICE` rows (its header row on each)."""
    found: list[dict[str, Any]] = []
    for row in rows:
        lines = row.get("rows") or []
        if row.get("type") != "Table" or len(lines) <= TABLE_SLICE + 1:
            found.append(row)
            continue
        header, data = (lines[:1], lines[1:]) if row.get("firstRowAsHeader", True) else ([], lines)
        for start in range(0, len(data), TABLE_SLICE):
            part = {**row, "rows": [*header, *data[start : start + TABLE_SLICE]]}
            if start and "id" in part:
                part["id"] = f"{part['id']}-{start // TABLE_SLICE}"
            found.append(part)
    return found


def _numbered(head: list[dict[str, Any]], n: int, of: int) -> list[dict[str, Any]]:
    if of == 1 or not head or head[0].get("type") != "TextBlock":
        return head
    return [{**head[0], "text": f"{head[0].get('text', '')} ({n}/{of})"}, *head[1:]]


def _cut_text(reply: Reply, limit: int) -> str:
    text = reply.text or ""
    over = teams_bytes(reply) - limit
    keep = max(0, len(text) - over // 2 - 200)
    lines = text[:keep].rsplit("\n", 1)[0] if "\n" in text[:keep] else text[:keep]
    return f"{lines}\n…and {text[len(lines) :].count(chr(10)) or 1} more: say `status`"
