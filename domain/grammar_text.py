"""From a Teams message to plain words, and from a word to a `Target`.

Teams sends HTML: mentions as `<at>Curfew</at>`, paragraphs, `&nbsp;`. `plain_words` removes all of
it along with politeness at either end, keeping the case (names and reasons are kept as typed), the
hyphens inside names and the colons inside times.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable
from typing import Final

from domain.grammar_types import ParseError, Target

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
_LEADING_POLITENESS: Final = re.compile(  # matched at a position (`match(words, pos, endpos)`)
    r"(?:(?:hey|hi|hello)\s+curfew|@?curfew|hey|please|pls|plz|kindly|"
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
    text = html.unescape(_without_tags(_without_mentions(text))).translate(_ODD_CHARACTERS)
    return " ".join(text.split())


def plain_words(text: str) -> str:
    """The message as plain words: `markup_removed`, then politeness stripped from both ends."""
    words = markup_removed(text)
    start, end = _politeness_trimmed(words)
    return words[start:end]


# Linear scans, no regex: a regex such as `<at\b[^>]*>.*?</at\s*>` or `<[^>]*>` tried at every `<`
# of a message full of unclosed tags reads the rest of the message at each one (quadratic).
_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
"""Lower case that keeps every index (str.lower() can lengthen a string: "İ" becomes two characters)."""


class _NextFrom:
    """The first position at or after `pos` where `found(text, pos)` holds, for `pos` that only grow:
    each character is looked at once over all the questions."""

    def __init__(self, text: str, find: Callable[[str, int], int]) -> None:
        self._text, self._find = text, find
        self._asked, self._answer = len(text) + 1, -1  # nothing asked yet

    def at_or_after(self, pos: int) -> int:
        """-1 when there is none: then there is none after any later `pos` either."""
        if not (self._asked <= pos and (self._answer < 0 or pos <= self._answer)):
            self._asked, self._answer = pos, self._find(self._text, pos)
        return self._answer


def _closing_mention(lower: str, pos: int) -> int:
    """The end of the first `</at>` (spaces allowed before `>`) at or after `pos`; -1 if none."""
    while (found := lower.find("</at", pos)) >= 0:
        after = found + 4
        while after < len(lower) and lower[after].isspace():
            after += 1
        if after < len(lower) and lower[after] == ">":
            return after + 1
        pos = found + 4
    return -1


def _without_mentions(text: str) -> str:
    """`text` with each `<at ...>Name</at>` (a Teams mention) replaced by a space."""
    lower = text.translate(_ASCII_LOWER)
    closing = _NextFrom(lower, _closing_mention)
    tag_end = _NextFrom(lower, lambda s, pos: s.find(">", pos))
    pieces, kept_from, pos = [], 0, 0
    while (opening := lower.find("<at", pos)) >= 0:
        pos = opening + 3
        if pos < len(lower) and (lower[pos].isalnum() or lower[pos] == "_"):  # "<attention>", not <at>
            continue
        end_of_tag = tag_end.at_or_after(pos)
        end = closing.at_or_after(end_of_tag + 1) if end_of_tag >= 0 else -1
        if end < 0:  # no mention can start here or later
            break
        pieces += [text[kept_from:opening], " "]
        kept_from = pos = end
    return "".join([*pieces, text[kept_from:]])


def _without_tags(text: str) -> str:
    """`text` with each `<...>` replaced by a space."""
    pieces, pos = [], 0
    while (opening := text.find("<", pos)) >= 0:
        closing = text.find(">", opening)
        if closing < 0:  # no tag from here on: the rest is text
            break
        pieces += [text[pos:opening], " "]
        pos = closing + 1
    return "".join([*pieces, text[pos:]])


def _politeness_trimmed(words: str) -> tuple[int, int]:
    """Where `words` starts and ends once politeness and punctuation are off both ends.

    Linear: each round takes something off an end, and what a round looks at past what it takes off
    is one word (the last one) or a few characters."""
    start, end = 0, len(words)
    while True:
        before = (start, end)
        while found := _LEADING_POLITENESS.match(words, start, end):
            if found.end() == start:
                break
            start = found.end()
        end = _trailing_politeness_trimmed(words, start, end)
        start, end = _spaces_trimmed(words, start, end)
        if (start, end) == before:
            return start, end


def _spaces_trimmed(words: str, start: int, end: int) -> tuple[int, int]:
    while start < end and words[start] == " ":
        start += 1
    while end > start and words[end - 1] == " ":
        end -= 1
    return start, end


def _trailing_politeness_trimmed(words: str, start: int, end: int) -> int:
    """The end of `words[start:end]` without its punctuation at the end, else without one politeness
    word or phrase at the end (and the comma before it)."""
    trimmed = end
    while trimmed > start and words[trimmed - 1] in _TRAILING_PUNCTUATION:
        trimmed -= 1
    if trimmed != end:
        return trimmed
    for phrase in (*_TRAILING_WORDS, *_TRAILING_WORDS_TOO):
        cut = _before_phrase_at_end(words, start, end, phrase)
        if cut is not None:
            while cut > start and words[cut - 1] == ",":
                cut -= 1
            return cut
    last_space = words.rfind(" ", start, end)
    comma = words.rfind(",", max(last_space + 1, start), end)  # "status,thanks"
    if comma >= 0 and (words[comma + 1 : end].lower(),) in (*_TRAILING_WORDS, *_TRAILING_WORDS_TOO):
        return comma
    return end


def _before_phrase_at_end(words: str, start: int, end: int, phrase: tuple[str, ...]) -> int | None:
    """The end of what comes before `phrase` when the words of `words[start:end]` end with it."""
    pos = end
    for n, word in enumerate(reversed(phrase), 1):
        space = words.rfind(" ", start, pos)
        if words[space + 1 if space >= 0 else start : pos].lower() != word:
            return None
        if space < 0:
            return start if n == len(phrase) else None
        pos = space
    return pos


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
