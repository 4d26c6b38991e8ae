"""Readers for every command but keep: each takes the plain words and returns its command, a
`ParseError` when the words are its command but wrong, or None when they are some other command.

All readers share one signature, (words, now, zone), so `parse_command` can try them in turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from domain.grammar_clock import read_clock
from domain.grammar_text import read_alias, read_target
from domain.grammar_types import (
    Command,
    Help,
    History,
    MyRequests,
    ParseError,
    Release,
    Report,
    RequestInstance,
    SetMorningStart,
    Start,
    Status,
    Stop,
    Target,
)

_FIXED: Final[dict[str, Command]] = {
    **dict.fromkeys(("help", "commands", "what can you do", "how does this work", "hi", "hello"), Help()),
    **dict.fromkeys(("i need help", "menu", "usage"), Help()),
    **dict.fromkeys(("status", "list", "ls", "instances", "my instances", "show my instances"), Status()),
    **dict.fromkeys(("list my instances", "show instances", "my status"), Status()),
    **dict.fromkeys(("what's running", "whats running", "what is running"), Status()),
    **dict.fromkeys(("my requests", "requests", "show my requests", "list my requests"), MyRequests()),
    **dict.fromkeys(("my request", "request status"), MyRequests()),
}


def read_fixed(words: str, now: datetime, zone: ZoneInfo) -> Command | None:
    """Help, Status and MyRequests: phrases without arguments."""
    return _FIXED.get(words.lower())


_TARGETED_VERBS: Final[tuple[tuple[str, Callable[[Target], Command], str], ...]] = (
    (
        r"release|unkeep|un-keep|stop\s+keeping|(?:cancel|end|drop|remove)\s+(?:the\s+|my\s+)?"
        r"keep(?:[\s-]*on)?(?:\s+(?:on|for))?",
        Release,
        "release NAME",
    ),
    (r"(?:show\s+)?(?:the\s+)?(?:history|log|audit)(?:\s+(?:of|for))?", History, "history NAME"),
    (r"stop|shut\s*down|shut\s+off|turn\s+off|switch\s+off|power\s+off|power\s+down|halt", Stop, "stop NAME"),
    (
        r"start\s+up|start|turn\s+on|switch\s+on|power\s+on|power\s+up|boot(?:\s+up)?|wake(?:\s+up)?"
        r"|spin\s+up|fire\s+up|resume",
        Start,
        "start NAME",
    ),
)
_TARGETED: Final = tuple(
    (re.compile(rf"(?:{verbs})(?:\s+(?:my\s+)?(?P<target>.+?))?(?:\s+now)?", re.I), make, usage)
    for verbs, make, usage in _TARGETED_VERBS
)
_PARTICLE_LAST: Final = re.compile(
    r"^(turn|switch|power|shut|wake|spin|fire)\s+(\S+)\s+(on|off|down|up)\b", re.I
)


def read_targeted(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    """Release, History, Stop, Start: a verb and one instance ("turn gpu-ci off" too)."""
    words = _PARTICLE_LAST.sub(r"\1 \3 \2", words)
    for pattern, make, usage in _TARGETED:
        if found := pattern.fullmatch(words):
            if not found["target"]:
                return ParseError("Which instance do you mean?", hint=usage)
            target = read_target(found["target"])
            return target if isinstance(target, ParseError) else make(target)
    return None


_MORNING: Final = re.compile(r"morning[\s-]*starts?(?:\s+(?P<rest>.+))?", re.I)
_MORNING_SWITCHED: Final = re.compile(
    r"(?P<flag>enable|disable|turn\s+on|turn\s+off|switch\s+on|switch\s+off|stop)\s+(?:the\s+|my\s+)?"
    r"morning[\s-]*starts?(?:\s+(?:for|on|of))?(?:\s+(?P<rest>.+))?",
    re.I,
)
_SWITCHES: Final = {
    **dict.fromkeys(("on", "enable", "enabled", "yes", "turn on", "switch on"), True),
    **dict.fromkeys(("off", "disable", "disabled", "no", "turn off", "switch off", "stop"), False),
}
_MORNING_HINT: Final = "morning start on NAME at 08:30, or morning start off NAME"


def read_morning_start(words: str, now: datetime, zone: ZoneInfo) -> SetMorningStart | ParseError | None:
    """Morning start on or off: "morning start on NAME [at 8:30]", "enable morning start for NAME"."""
    if found := _MORNING_SWITCHED.fullmatch(words):
        tokens = [" ".join(found["flag"].lower().split()), *(found["rest"] or "").split()]
    elif found := _MORNING.fullmatch(words):
        tokens = (found["rest"] or "").split()
    else:
        return None
    enabled = _SWITCHES.get(tokens.pop(0).lower()) if tokens and tokens[0].lower() in _SWITCHES else None
    if tokens and tokens[0].lower() == "for":
        tokens.pop(0)
    if not tokens:
        return ParseError("Which instance do you mean?", hint=_MORNING_HINT)
    target = read_target(tokens.pop(0))
    if isinstance(target, ParseError):
        return target
    if enabled is None and tokens and tokens[0].lower() in _SWITCHES:
        enabled = _SWITCHES[tokens.pop(0).lower()]
    return _morning_start(target, enabled, re.sub(r"^at\s+", "", " ".join(tokens), flags=re.I))


def _morning_start(target: Target, enabled: bool | None, at_text: str) -> SetMorningStart | ParseError:
    clock = read_clock(at_text, bare_hour=True) if at_text else None
    if at_text and clock is None:
        return ParseError(f"I could not read “{at_text}” as a time.", hint=_MORNING_HINT)
    if enabled is None and clock is None:
        return ParseError(f"Should morning start be on or off for {target.name}?", hint=_MORNING_HINT)
    if enabled is False and clock is not None:
        return ParseError("A time goes only with morning start on.", hint=_MORNING_HINT)
    return SetMorningStart(target, enabled is not False, clock.at if clock else None)


_REQUEST: Final = re.compile(
    r"(?P<verb>request|order|new|create|i\s+need|i\s+want|i'?d\s+like|get\s+me|give\s+me"
    r"|(?:can|could|may)\s+i\s+(?:get|have))\b\s*(?P<body>.*)",
    re.I,
)
_PURPOSE: Final = re.compile(r"\s+(?:for|because|to)\s+.*$", re.I)
_MACHINE_WORDS: Final = frozenset({"instance", "vm", "machine", "computer", "box", "workstation"})
_SIZE_WORDS: Final = frozenset({"gpu", "cpu", "small", "medium", "large", "big", "bigger", "larger"})
_FILLER_WORDS: Final = frozenset({"a", "an", "another", "one", "new", "me", "with", "compute", "my", "own"})
_VM_SIZE: Final = re.compile(r"standard_[a-z0-9_]+", re.I)


def read_request(words: str, now: datetime, zone: ZoneInfo) -> RequestInstance | None:
    """A request for an instance: "request an instance", "I need a GPU", "request instance Standard_NC6s_v3".

    A purpose after for/because/to is dropped; any other unknown word means this is no request.
    """
    found = _REQUEST.fullmatch(words)
    if found is None:
        return None
    machine, sizes = False, []
    for token in _PURPOSE.sub("", found["body"]).split():
        if token.lower() in _MACHINE_WORDS:
            machine = True
        elif token.lower() in _SIZE_WORDS:
            sizes.append(token.lower())
        elif _VM_SIZE.fullmatch(token):
            sizes.append(token)
        elif token.lower() not in _FILLER_WORDS:
            return None
    if not (machine or sizes or found["verb"].lower() == "request"):
        return None
    return RequestInstance(" ".join(sizes) or None)


_REPORT: Final = re.compile(
    r"(?:(?P<adjective>weekly|monthly)\s+)?(?:savings\s+)?(?:report|digest)"
    r"(?:\s+(?:for\s+|of\s+)?(?:the\s+|this\s+|last\s+)?(?P<period>week|weekly|month|monthly))?"
    r"(?:\s+(?:(?:for|on|in)\s+)?(?P<workspace>\S+))?",
    re.I,
)


def read_report(words: str, now: datetime, zone: ZoneInfo) -> Report | ParseError | None:
    """The savings report: "report", "report week", "report month team-a", "monthly report for team-a"."""
    found = _REPORT.fullmatch(words)
    if found is None:
        return None
    said = (found["period"] or found["adjective"] or "week").lower()
    period: Literal["week", "month"] = "month" if said.startswith("month") else "week"
    if found["workspace"] is None:
        return Report(period)
    workspace = read_alias(found["workspace"])
    return workspace if isinstance(workspace, ParseError) else Report(period, workspace)
