"""Parse benchmark: the worst case of the chat grammar over adversarial messages at the length limit.

Every message Curfew reads goes through `domain.grammar.parse_command` on the event loop, so its cost
is how long one message can hold up every other turn, `/healthz` and the scheduler. This runs each
adversarial family (repeated punctuation, spaces, politeness words, digits, unicode, unclosed `<at`
and `<` tags, date and duration words, ...) at the limit (`MAX_MESSAGE_CHARS`) and at half of it, and
prints, in the same run, the baseline of a plain `status`, the ratio of each family to the baseline and
the growth from half the limit to the limit (about 2 for linear work, about 4 for quadratic). A
message over the limit (the issue's `"stop gpu-ci " + "!" * 28000 + "x"`) is answered before any
parsing and is timed too.

    .venv/bin/python -m bench.parse [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from statistics import median
from zoneinfo import ZoneInfo

from domain.grammar import parse_command
from domain.grammar_text import MAX_MESSAGE_CHARS

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")


def _fill(prefix: str, unit: str, suffix: str = "") -> Callable[[int], str]:
    """A message of `prefix`, `unit` repeated (whole), and `suffix`, exactly `n` characters long: the
    characters left over are spaces in front, which the grammar drops first."""

    def build(n: int) -> str:
        room = n - len(prefix) - len(suffix)
        body = unit * (room // len(unit))
        return " " * (room - len(body)) + prefix + body + suffix

    return build


FAMILIES: dict[str, Callable[[int], str]] = {
    "punctuation run, then a letter": _fill("stop gpu-ci ", "!", "x"),
    "punctuation run at the end": _fill("stop gpu-ci ", "!?.,;:"),
    "spaces, then a letter": _fill("stop gpu-ci", " ", "x"),
    "tabs and newlines": _fill("status", "\t\n \r", "x"),
    "politeness words": _fill("", "please ", "status"),
    "trailing thanks": _fill("status", " thanks"),
    "politeness and commas": _fill("status", ",thanks", "x"),
    "digits after a keep": _fill("keep gpu-ci for ", "9", " hours"),
    "digit groups": _fill("keep gpu-ci for ", "1 ", "x"),
    "duration words": _fill("keep gpu-ci for ", "an hour and a half and ", "x"),
    "until, date words": _fill("keep gpu-ci until ", "friday ", "x"),
    "until, digits and dots": _fill("keep gpu-ci until ", "1.", "x"),
    "until, clock-like words": _fill("keep gpu-ci until ", "9am ", "at"),
    "reason separators": _fill("keep gpu-ci for 2 hours ", ": - because ", ""),
    "idle, dashes": _fill("idle", "-", "x"),
    "why, one long word": _fill("why ", "a", " b"),
    "unclosed <at runs": _fill("", "<at", "status"),
    "unclosed <at> with no </at>": _fill("", "<at>x", "status"),
    "unclosed < tags": _fill("", "<", "status"),
    "</at without >": _fill("<at>x", "</at ", "status"),
    "entities": _fill("status ", "&amp;", ""),
    "unicode letters": _fill("stop ", "é漢字🙂", ""),
    "unicode spaces": _fill("stop gpu-ci", "\u00a0\u2003\u200b", "x"),
    "request words": _fill("request a ", "gpu ", "x"),
}


def timings(text: str, repeat: int) -> list[float]:
    """`repeat` parses of `text`, in seconds each."""
    found = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            parse_command(text, NOW, ZONE)
        except Exception as error:  # a crash is a finding too: say so, keep measuring
            print(f"  raised {type(error).__name__}: {error}")
            return [float("nan")]
        found.append(time.perf_counter() - start)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    parse_command("status", NOW, ZONE)  # warm-up: imports, dateparser's tables
    base = timings("status", args.repeat)
    print(f"limit: {MAX_MESSAGE_CHARS:,} characters; {args.repeat} parses of each message")
    print("worst: the slowest parse; growth: median at the limit / median at half the limit")
    print(f"{'message':<34} {'worst':>10} {'x status':>9} {'median':>10} {'growth':>7}")
    print(f"{'status (baseline)':<34} {max(base) * 1e3:>8.3f}ms {1:>9.1f} {median(base) * 1e3:>8.3f}ms")
    results, typicals = [], []
    for name, build in FAMILIES.items():
        full, half = build(MAX_MESSAGE_CHARS), build(MAX_MESSAGE_CHARS // 2)
        assert len(full) == MAX_MESSAGE_CHARS, name
        at_limit, at_half = timings(full, args.repeat), timings(half, args.repeat)
        results.append((max(at_limit), name))
        typicals.append((median(at_limit), name))
        growth = median(at_limit) / median(at_half)
        ratio = max(at_limit) / max(base)
        print(
            f"{name:<34} {max(at_limit) * 1e3:>8.3f}ms {ratio:>9.1f} {median(at_limit) * 1e3:>8.3f}ms {growth:>7.2f}"
        )
    over = timings("stop gpu-ci " + "!" * 28_000 + "x", args.repeat)
    print(f"{'over the limit (28,012 chars)':<34} {max(over) * 1e3:>8.3f}ms")
    slowest, name = max(results)
    typical, typical_name = max(typicals)
    print(f"slowest parse at the limit: {name}: {slowest * 1e3:.3f} ms ({slowest / max(base):.0f}x status)")
    print(
        f"worst family at the limit (median): {typical_name}: {typical * 1e3:.3f} ms "
        f"({typical / median(base):.0f}x status's median)"
    )


if __name__ == "__main__":
    main()
