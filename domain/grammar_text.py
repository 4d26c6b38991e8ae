"""From a Teams message to plain words, and from a word to a `Target`.

Teams sends HTML: mentions as `<at>Curfew</at>`, paragraphs, `&nbsp;`. `plain_words` removes all of
it along with politeness at either end, keeping the case (names and reasons are kept as typed), the
hyphens inside names and the colons inside times.
"""

from __future__ import annotations

import html
import re
from typing import Final

from domain.grammar_types import ParseError, Target

_MENTION: Final = re.compile(r"<at\b[^>]*>.*?</at\s*>", re.IGNORECASE | re.DOTALL)
_TAG: Final = re.compile(r"<[^>]*>")
_ODD_CHARACTERS: Final = str.maketrans(
    {
        "\u00a0": " ",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
_LEADING_POLITENESS: Final = re.compile(
    r"^(?:(?:hey|hi|hello)\s+curfew|@?curfew|hey|please|pls|plz|kindly|"
    r"(?:could|can|would|will)\s+you)(?=[\s,:;!.]|$)[\s,:;!.]*",
    re.IGNORECASE,
)
_TRAILING_WORDS: Final = (("thank", "you"), ("please",), ("pls",), ("plz",), ("thanks",), ("thx",), ("ty",))
_TRAILING_WORDS_TOO: Final = (("cheers",),)
_TRAILING_PUNCTUATION: Final = " !?.,;:"
MAX_MESSAGE_CHARS: Final = 2000
"""Longer messages get a short answer before any parsing (issue 12: parsing stays cheap)."""

_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,23}")
_ALIAS: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
NAME_RULE: Final = "Instance names have 3 to 24 letters, digits or hyphens and start with a letter."


def markup_removed(text: str) -> str:
    """The message without mentions, tags and entities, its whitespace collapsed."""
    text = _MENTION.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text).translate(_ODD_CHARACTERS)
    return " ".join(text.split())


def plain_words(text: str) -> str:
    """The message as plain words: `markup_removed`, then politeness stripped from both ends."""
    words = markup_removed(text)
    while True:
        shorter = _without_trailing_politeness(_LEADING_POLITENESS.sub("", words)).strip()
        if shorter == words:
            return words
        words = shorter


def _without_trailing_politeness(words: str) -> str:
    """`words` without punctuation and one politeness word at the end; linear, no regex (a regex
    searched for a run of punctuation at the end is quadratic in the run's length)."""
    trimmed = words.rstrip(_TRAILING_PUNCTUATION)
    if trimmed != words:
        return trimmed
    tokens = words.split(" ")
    for phrase in (*_TRAILING_WORDS, *_TRAILING_WORDS_TOO):
        tail = tokens[-len(phrase) :]
        if len(tokens) >= len(phrase) and [t.lower() for t in tail] == list(phrase):
            return " ".join(tokens[: -len(phrase)]).rstrip(",")
    last_comma = tokens[-1].rpartition(",")  # "status,thanks"
    if last_comma[1] and (last_comma[2].lower(),) in (*_TRAILING_WORDS, *_TRAILING_WORDS_TOO):
        return " ".join([*tokens[:-1], last_comma[0]])
    return words


def read_target(word: str) -> Target | ParseError:
    """`NAME` or `NAME@ALIAS`; the name as typed, the alias in lower case as configured."""
    word = word.strip().strip("\"'`")
    name, at, alias = word.partition("@")
    if not _NAME.fullmatch(name):
        return ParseError(f"“{name}” is not a valid instance name.", hint=NAME_RULE)
    if at and not _ALIAS.fullmatch(alias.lower()):
        return ParseError(
            f"“{word}” does not end in a workspace alias.", hint=f"Write {name}@ALIAS, e.g. {name}@team-a."
        )
    return Target(name, alias.lower() if at else None)


def read_alias(word: str) -> str | ParseError:
    if not _ALIAS.fullmatch(word.lower()):
        return ParseError(f"“{word}” is not a workspace alias.", hint="Aliases look like team-a.")
    return word.lower()
