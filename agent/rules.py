"""The deterministic parser: what the usual phrases of a turn say, read without a language model.

Durations ("under 10 minutes", and vague ones such as "not too long" through :mod:`agent.lengths`),
years, languages, topics to avoid, talks already seen, references to liked talks ("more like the
stress one you showed me"), request and small-talk cues. :mod:`agent.understand` uses it to decide
plain turns alone and to check and complete what the model answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from agent.lengths import read_vague_length
from agent.settings import LengthSettings
from agent.text import content_words

LANGUAGES: dict[str, str] = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "chinese": "zh",
    "mandarin": "zh",
    "japanese": "ja",
    "korean": "ko",
    "arabic": "ar",
    "hindi": "hi",
    "turkish": "tr",
    "polish": "pl",
    "swedish": "sv",
    "greek": "el",
    "hebrew": "he",
    "persian": "fa",
}

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "a": 1,
    "an": 1,
    "half an": 0.5,
}
_NUM = r"(\d+(?:\.\d+)?|half an|forty-five|[a-z]+)"
_UNIT = r"(hours?|hrs?|h|minutes?|mins?|m)\b"
_MAX_CUES = r"(?:under|less than|shorter than|at most|no more than|no longer than|max(?:imum)?|below|up to|within|not over|nothing over|not more than)"
_MIN_CUES = (
    r"(?:over|more than|longer than|at least|min(?:imum)?|above|no less than|no shorter than)"
)
_MAX_RE = re.compile(rf"\b{_MAX_CUES}\s+{_NUM}[\s-]*{_UNIT}", re.IGNORECASE)
_MIN_RE = re.compile(rf"\b{_MIN_CUES}\s+{_NUM}[\s-]*{_UNIT}", re.IGNORECASE)
_MAX_AFTER_RE = re.compile(
    rf"\b{_NUM}[\s-]*{_UNIT}\s*(?:max(?:imum)?|or less|or shorter|tops|at most)\b", re.IGNORECASE
)
_MIN_AFTER_RE = re.compile(
    rf"\b{_NUM}[\s-]*{_UNIT}\s*(?:min(?:imum)?|or more|or longer|at least)\b", re.IGNORECASE
)
_AFTER_RE = re.compile(r"\b(?:after|since|from|newer than|later than)\s+((?:19|20)\d\d)\b", re.I)
_BEFORE_RE = re.compile(
    r"\b(?:before|until|prior to|older than|earlier than)\s+((?:19|20)\d\d)\b", re.I
)
_LANG_RE = re.compile(r"\b(?:in|spoken in)\s+(" + "|".join(LANGUAGES) + r")\b", re.IGNORECASE)
_REQUEST_RE = re.compile(
    r"\b(recommend|suggest|show me|find me|looking for|look for|want to (?:watch|see|learn)|"
    r"something (?:about|on|like)|anything (?:about|on|like)|any (?:talks?|videos?)|"
    r"got anything|more like|similar|another one|any other|more of|more about|what should i watch|"
    r"i'd like|i want|talks?|videos?|films?|movies?|documentar(?:y|ies)|lectures?|clips?|"
    r"how (?:to|do (?:i|you|we)|can (?:i|you|we)|does)|teach me|tell me about|learn about|"
    r"explain|introduction to|intro to)\b",
    re.IGNORECASE,
)
_CHITCHAT_RE = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|thx|ok|okay|cool|great|nice|bye|goodbye|good (?:morning|"
    r"evening|night)|how are you|who are you|what can you do)\b[\s\w,!.?']{0,30}$",
    re.IGNORECASE,
)
_AVOID_RE = re.compile(
    r"\b(?:nothing|not|no|without|avoid|except|skip)\s+(?:anything\s+)?(?:about|on|related to|"
    r"to do with|involving)?\s*([a-z][a-z' -]{2,40}?)\s*(?=[,.;!?]|$|\band\b|\bor\b|\bplease\b)",
    re.IGNORECASE,
)
# "I already saw X", "I've seen X", and "I watched the one where ..." (a definite "the one / the
# talk": someone looking for a talk they saw says "a talk"); "I just finished the one about ...",
# "already did the octopus one" (finished / did / done only before a definite "the": "I already
# did my homework" names no talk); a description may run long
_SEEN_RE = re.compile(
    r"(?:\b(?:already|have|I've|i have)\s+(?:seen|watched|saw)\s+|"
    r"\b(?:already|just|have|I've|i have)\s+(?:just\s+)?(?:finished|did|done)\s+(?=the\b)|"
    r"(?:^|(?<=[.!?])\s+|\b(?:i|we)\s+(?:already\s+|just\s+)?)(?:seen|watched|saw|finished)\s+"
    r"(?=the (?:one|talk|video)\b))(?:the one about\s+)?"
    r"([^,.;!?]{3,160}?)\s*(?=[,.;!?]|$|\band (?:i|it|loved|liked|hated|want|would|now|then)\b|"
    r"\bbut\b|\bso\b)",
    re.IGNORECASE,
)
# "more like the stress one you showed me", "something like that talk by the chef"
_MORE_LIKE_RE = re.compile(
    r"\b(?:more|something|anything|others?|another(?: one)?|one)\s+(?:just\s+)?like\s+"
    r"(?:the\s+|that\s+|this\s+)?([^,.;!?]{3,80}?)"
    r"(?:\s+(?:one|talk|video))?(?:\s+(?:that\s+)?you\s+(?:showed|gave|suggested|recommended|sent)"
    r"(?:\s+me)?(?:\s+(?:earlier|before))?)?\s*(?=[,.;!?]|$)",
    re.IGNORECASE,
)
# "not the one about bees", "not the stress one", "not that one by the chef": keep it out
_NOT_THE_RE = re.compile(
    r"\bnot (?:the|that) (?:(?:one|talk|video) )?((?:about|on|by|with|from) [^,.;!?]{3,60}?|"
    r"[a-z][a-z -]{2,40}? one)\s*(?=[,.;!?]|$|\band\b|\bbut\b)",
    re.IGNORECASE,
)
_REWATCH_RE = re.compile(
    r"\b(again|rewatch|re-watch|once more|one more time|even (?:the )?ones? i(?:'ve| have)? "
    r"(?:seen|watched)|including (?:the )?ones? i(?:'ve| have)? (?:seen|watched))\b",
    re.IGNORECASE,
)
_TASTE_RE = re.compile(
    r"\b(?:what|whatever|the ones?|things?|stuff|everything) (?:i|we)(?:'ve| have)? "
    r"(?:liked|loved|enjoyed|watched|saw|seen|rated)\b|"
    r"\b(?:ones?|videos?|talks?|films?|movies?) i(?:'ve| have)? (?:liked|loved|enjoyed)\b|"
    r"\bmy (?:taste|history|favou?rites|profile)\b|\bsame (?:spirit|vibe|kind|sort|style)\b|"
    r"\bsurprise me\b|\bbased on (?:what i|my)\b",
    re.IGNORECASE,
)
# words a taste-only request is made of (after stopwords): none of them names a topic
_TASTE_WORDS = frozenset(
    [
        "i'd",
        "same",
        "spirit",
        "vibe",
        "kind",
        "sort",
        "style",
        "before",
        "previously",
        "earlier",
        "lately",
        "recently",
        "enjoyed",
        "liked",
        "loved",
        "watched",
        "seen",
        "saw",
        "rated",
        "surprise",
        "based",
        "taste",
        "history",
        "favourites",
        "favorites",
        "profile",
        "usual",
        "usually",
    ]
)


def taste_only(text: str) -> bool:
    """Whether ``text`` asks for more of the user's own taste and names no topic ("something in
    the same spirit as what I liked before", "surprise me based on my history")."""
    return bool(_TASTE_RE.search(text)) and set(content_words(text)) <= _TASTE_WORDS


def _to_number(token: str) -> float | None:
    token = token.lower()
    if token in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[token])
    try:
        return float(token)
    except ValueError:
        return None


def _seconds(amount: str, unit: str) -> float | None:
    value = _to_number(amount)
    if value is None:
        return None
    return value * (3600.0 if unit.lower().startswith("h") else 60.0)


@dataclass(frozen=True)
class RuleParse:
    """What the deterministic parser found in the user's latest message."""

    max_duration: float | None = None
    min_duration: float | None = None
    published_after: date | None = None
    published_before: date | None = None
    language: str | None = None
    wants_recommendations: bool | None = None  # None: no cue either way
    include_seen: bool = False
    numbers: frozenset[float] = field(default_factory=frozenset)
    avoid: tuple[str, ...] = ()
    seen: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()  # references to talks the user wants more like


def _mentions(pattern: re.Pattern[str], text: str) -> tuple[str, ...]:
    """The phrases ``pattern`` captures in ``text`` that name something (have content words)."""
    found = (" ".join(m.group(1).split()) for m in pattern.finditer(text))
    return tuple(dict.fromkeys(m for m in found if content_words(m)))


def parse_rules(text: str, lengths: LengthSettings | None = None) -> RuleParse:
    """Cheap deterministic reading of common phrases ("under 10 minutes", "after 2015", "not too
    long": a vague length counts only when no number sets that side, :mod:`agent.lengths`)."""
    max_d = min_d = None
    if m := _MAX_RE.search(text) or _MAX_AFTER_RE.search(text):
        max_d = _seconds(m.group(1), m.group(2))
    if m := _MIN_RE.search(text) or _MIN_AFTER_RE.search(text):
        min_d = _seconds(m.group(1), m.group(2))
    if max_d is None and min_d is None:
        vague = read_vague_length(text, lengths)
        max_d, min_d = vague.max_duration, vague.min_duration
    after = before = None
    if m := _AFTER_RE.search(text):
        after = date(int(m.group(1)), 1, 1)
    if m := _BEFORE_RE.search(text):
        before = date(int(m.group(1)) - 1, 12, 31)
    language = None
    if m := _LANG_RE.search(text):
        language = LANGUAGES[m.group(1).lower()]
    wants: bool | None = None
    if _REQUEST_RE.search(text) or max_d or min_d:
        wants = True  # asks for something, names a kind of video, or sets a length
    elif _CHITCHAT_RE.match(text):
        wants = False
    numbers = set()
    for token in re.findall(r"\d+(?:\.\d+)?|[a-z]+(?:-[a-z]+)?", text.lower()):
        value = _to_number(token)
        if value is not None and token not in ("a", "an"):
            numbers.add(value)
    if re.search(r"\bhalf an hour\b", text, re.IGNORECASE):
        numbers.add(30.0)
    if re.search(r"\b(?:an|one) hour\b", text, re.IGNORECASE):
        numbers.update({1.0, 60.0})
    return RuleParse(
        max_duration=max_d,
        min_duration=min_d,
        published_after=after,
        published_before=before,
        language=language,
        wants_recommendations=wants,
        include_seen=bool(_REWATCH_RE.search(text)),
        numbers=frozenset(numbers),
        seen=_mentions(_SEEN_RE, text) + _mentions(_NOT_THE_RE, text),
        liked=_mentions(_MORE_LIKE_RE, text),
        avoid=tuple(
            m.group(1).strip().lower()
            for m in _AVOID_RE.finditer(text)
            if content_words(m.group(1))
            and not re.match(
                r"(?:more|longer|shorter|over|under|than|the|that|this)\b", m.group(1), re.I
            )
            and not read_vague_length(m.group(0)).phrase  # "not too lengthy" is a length
        ),
    )
