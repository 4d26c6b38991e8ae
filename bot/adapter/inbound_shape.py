"""What an inbound body must look like before botbuilder sees it: JSON, an object, sane at every depth.

Bad input gets a 400 with a reason, never a 5xx: JSON nested deeper than `MAX_DEPTH` (Python's own
parser would raise RecursionError far below what a request may hold), strings that are not valid
Unicode (lone surrogates, which break every later encode: database, log, reply), numbers JSON cannot
say back (huge integers Python refuses to parse, infinities), and a wrong type in any field Curfew
or botbuilder reads (`from`, `conversation`, `channelData.tenant`, `entities`, ...). Values Curfew
reads as text are also bounded (`MAX_ID` for ids and names). A card's `value` may hold any JSON
within those limits: its handlers read it defensively.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_ID = 1024
"""Ids, names, URLs: Teams' are far shorter (a conversation id is at most a few hundred characters)."""
MAX_NODES = 20_000
"""Values in one body (the body itself is at most 1 MB, aiohttp's default)."""

_TEXT = ("type", "id", "serviceUrl", "channelId", "name", "replyToId", "locale", "action", "textFormat")
_LONG_TEXT = ("text", "localTimezone", "timestamp", "localTimestamp", "summary")
_ACCOUNTS = ("from", "recipient")
_ACCOUNT_TEXT = ("id", "name", "aadObjectId", "role")
_CONVERSATION_TEXT = ("id", "name", "conversationType", "tenantId")
_LISTS = ("entities", "attachments", "membersAdded", "membersRemoved")


class BadBody(ValueError):
    """`str(error)` says what is wrong, for the 400 answer."""


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.S)
"""A JSON string (or an unterminated one, to the end): possessive, so one pass over the body."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
TOO_DEEP = f"the body is nested too deeply (at most {MAX_DEPTH} levels) or is not JSON"


def load_activity(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object fit for botbuilder; BadBody with the reason otherwise."""
    if not _shallow(raw):  # before json.loads, which recurses in C up to Python's recursion limit
        raise BadBody(TOO_DEEP)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadBody(TOO_DEEP) from None
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8; expected a Bot Framework activity") from None
    except ValueError:  # JSONDecodeError, and integers over Python's digit limit
        raise BadBody("the body is not JSON; expected a Bot Framework activity") from None
    if not isinstance(body, dict):
        raise BadBody("the body is not a JSON object; expected a Bot Framework activity")
    _check_values(body)
    _check_fields(body)
    return body


def _shallow(raw: bytes) -> bool:
    """True when the brackets outside strings nest at most about MAX_DEPTH deep (two kinds may
    interleave within one pass, so up to twice that: still far from the recursion limit). Each pass
    drops the innermost pairs; all of it runs in C, over at most 1 MB."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return True
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    runs = (b"[" * (MAX_DEPTH + 1), b"{" * (MAX_DEPTH + 1), b"[{" * MAX_DEPTH, b"{[" * MAX_DEPTH)
    if any(run in brackets for run in runs):  # the usual deep bodies, found without a pass
        return False
    for _ in range(MAX_DEPTH + 1):
        if not brackets:
            return True
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if inner == brackets:  # unbalanced: not JSON
            return False
        brackets = inner
    return not brackets


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_values(body: Any) -> None:
    """Depth, Unicode and numbers at every depth, without recursion."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise BadBody(TOO_DEEP)
        if nodes > MAX_NODES:
            raise BadBody(f"the body holds too many values (at most {MAX_NODES})")
        if isinstance(node, str):
            _unicode(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise BadBody("the body holds a number out of range")
        elif isinstance(node, dict):
            for key, value in node.items():
                _unicode(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("the body holds text that is not valid Unicode (a lone surrogate)") from None


def _check_fields(body: Mapping[str, Any]) -> None:
    _texts(body, _TEXT, "", MAX_ID)
    _texts(body, _LONG_TEXT, "", None)
    for name in _ACCOUNTS:
        _texts(_object(body, name), _ACCOUNT_TEXT, f"{name}.", MAX_ID)
    _texts(_object(body, "conversation"), _CONVERSATION_TEXT, "conversation.", MAX_ID)
    conversation = _object(body, "conversation")
    if "isGroup" in conversation and not isinstance(conversation["isGroup"], bool | None):
        raise BadBody('"conversation.isGroup" must be true or false')
    channel_data = _object(body, "channelData")
    _texts(_object(channel_data, "tenant", "channelData."), ("id",), "channelData.tenant.", MAX_ID)
    for name in _LISTS:
        items = body.get(name)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise BadBody(f'"{name}" must be a list of objects')
        for item in items:
            _texts(item, ("type", "id", "name", "aadObjectId", "contentType"), f"{name}[].", MAX_ID)
            _texts(item, ("text", "timezone", "locale"), f"{name}[].", None)  # mention, clientInfo
            _texts(_object(item, "mentioned", f"{name}[]."), ("id", "name"), f"{name}[].mentioned.", MAX_ID)


def _object(parent: Mapping[str, Any], name: str, prefix: str = "") -> Mapping[str, Any]:
    value = parent.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadBody(f'"{prefix}{name}" must be an object')
    return value


def _texts(parent: Mapping[str, Any], names: tuple[str, ...], prefix: str, limit: int | None) -> None:
    for name in names:
        value = parent.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadBody(f'"{prefix}{name}" must be a string')
        if limit is not None and len(value) > limit:
            raise BadBody(f'"{prefix}{name}" is longer than {limit} characters')
