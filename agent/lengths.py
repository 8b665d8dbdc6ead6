"""Vague lengths: "not too long", "something quick", "over lunch", "a deep dive" -> duration limits.

Read by rules, never by the language model (the 0.5B model ignores or invents limits). Each phrase
kind maps to a limit in minutes from :class:`agent.settings.LengthSettings`; the limit is **hard**:
it becomes ``SearchFilters.max_duration`` / ``min_duration`` exactly like "under 10 minutes", so no
pick in the answer breaks it (a request whose topic has nothing that short gets fewer picks, or
none, rather than a 40-minute talk). A number the user wrote ("under 25 minutes") always wins over
a vague phrase.

Words that only look like lengths are not read as such: "short-term", "a short story", "how long",
"long-term", "a long time", "longevity", "quick fix".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.settings import LengthSettings


@dataclass(frozen=True)
class VagueLength:
    """A limit read from a vague phrase: at most / at least this many seconds, and the phrase."""

    max_duration: float | None = None
    min_duration: float | None = None
    phrase: str = ""


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


_NOT_LENGTH = r"(?![\s-]*(?:term|story|stories|list|cut|fix|fixes|answer|version|circuit|hand))"
# (settings field, phrases), tried in this order; the first that matches decides
_MAX_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "hour_max_minutes",
        _any(
            r"(?:i|we)(?:'ve| have| got)? (?:got )?(?:about |around |roughly )?(?:an|one) hour",
            r"(?<!half )(?:an|one) hour (?:or so|to spare|free|to kill)",
            r"within (?:an|the) hour",
        ),
    ),
    (
        "half_hour_max_minutes",
        _any(r"half an hour", r"half-hour", r"30-minute break", r"commute", r"train ride"),
    ),
    ("lunch_max_minutes", _any(r"(?:over|during|at|for) (?:my |a |the )?lunch(?: break)?")),
    (
        "few_minutes_max_minutes",
        _any(
            r"(?:a )?few minutes",
            r"couple (?:of )?minutes",
            r"bite[- ]?sized?",
            r"tiny",
            r"coffee break",
            r"tea break",
            r"five-minute",
            r"(?:very|super|really) (?:short|quick)",
        ),
    ),
    (
        "not_too_long_max_minutes",
        _any(
            r"not (?:too |very |that |so |overly )?long",
            r"nothing (?:too |very |that |so |overly )?long",
            r"isn't (?:too |very )?long",
            r"not (?:too |very )?lengthy",
            r"(?:don't|do not) have (?:much|a lot of) time",
            r"(?:in a|in a bit of a) hurry",
            r"short on time",
        ),
    ),
    (
        "short_max_minutes",
        _any(
            r"short(?:er)?" + _NOT_LENGTH,
            r"brief(?:er)?",
            r"quick(?:er|ly)?" + _NOT_LENGTH,
            r"snappy",
        ),
    ),
)
_MIN_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "long_min_minutes",
        _any(
            r"(?:something|anything|one|talks?|videos?|lectures?) (?:really |properly |nice and )?long(?:er)?"
            + _NOT_LENGTH,
            r"long(?:er)? (?:one|ones|talks?|videos?|lectures?|form)",
            r"longer",
            r"lengthy",
            r"deep[- ]dives?",
            r"in[- ]depth",
            r"take (?:my|our) time",
            r"(?:whole|entire) evening",
        ),
    ),
)
# phrases that contain a length word without meaning a length
_FALSE = _any(
    r"how long",
    r"long[- ]term",
    r"long time",
    r"long ago",
    r"so long",
    r"as long as",
    r"long run",
    r"longevity",
    r"long distance",
    r"(?:make|cut) a long story short",
    r"no longer",
    r"in short",
    r"short[- ]sighted",
    r"long for",
    r"longing",
    r"not (?:too |very |that )?short",
)


def read_vague_length(text: str, settings: LengthSettings | None = None) -> VagueLength:
    """The duration limit that a vague phrase in ``text`` asks for (an empty one if none does)."""
    cfg = settings or LengthSettings()
    cleaned = _FALSE.sub(" ", text)
    for field, pattern in _MAX_KINDS:
        if m := pattern.search(cleaned):
            return VagueLength(max_duration=float(getattr(cfg, field)) * 60.0, phrase=m.group(0))
    for field, pattern in _MIN_KINDS:
        if m := pattern.search(cleaned):
            return VagueLength(min_duration=float(getattr(cfg, field)) * 60.0, phrase=m.group(0))
    return VagueLength()


def strip_vague_length(text: str) -> str:
    """``text`` without its length phrases (they are a filter, not a topic to search for)."""
    out = text
    for _, pattern in (*_MAX_KINDS, *_MIN_KINDS):
        out = pattern.sub(" ", out)
    return " ".join(out.split())
