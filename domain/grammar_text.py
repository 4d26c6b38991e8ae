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
_TRAILING_POLITENESS: Final = re.compile(
    r"(?:(?:^|\s|,)(?:please|pls|plz|thanks|thank\s+you|thx|ty|cheers)|[\s!?.,;:]+)\s*$",
    re.IGNORECASE,
)

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
        shorter = _TRAILING_POLITENESS.sub("", _LEADING_POLITENESS.sub("", words)).strip()
        if shorter == words:
            return words
        words = shorter


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
