"""Understanding a turn: the conversation so far -> :class:`agent.types.TurnUnderstanding`.

The primary path is one schema-constrained LLM call with the versioned ``understand`` prompt. Its
answer is then validated and normalised, because small models are unreliable at exactly the parts
that do harm when wrong:

* durations come in minutes and are turned into seconds; nonsense (<= 0, > 24 h) is dropped, and
  so is a limit the user never stated (its number must appear in what the user wrote);
* years outside 1900..next year, or not written by the user, are dropped;
* languages are mapped to ISO 639-1 codes ("Spanish" -> "es");
* liked / disliked / seen items and topics to avoid must overlap what the user wrote, and a
  disliked item may not simply repeat the search topic;
* an empty search text falls back to the user's own words.

A cheap deterministic parser (:func:`parse_rules`) fills in what the model missed (duration and year
limits written with the usual phrases, request cues) and stands in entirely when the model's output
is unusable (:class:`agent.llm.base.LLMOutputError`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from agent.conversation import last_user, render_conversation, user_texts
from agent.lengths import read_vague_length
from agent.llm.base import LLM, LLMOutputError
from agent.settings import LengthSettings
from agent.text import content_words
from agent.types import Message, TurnUnderstanding
from prompts.loader import load_prompt
from retrieval.types import SearchFilters

log = logging.getLogger(__name__)

MAX_DURATION_S = 24 * 3600.0
MAX_ITEMS = 5
MAX_ITEM_CHARS = 120
MAX_SEARCH_CHARS = 300


def _nullable(kind: str) -> dict[str, Any]:
    return {"anyOf": [{"type": kind}, {"type": "null"}]}


_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_ITEMS}

UNDERSTAND_SCHEMA: dict[str, Any] = {
    "title": "turn_understanding",
    "type": "object",
    "properties": {
        "wants_recommendations": {"type": "boolean"},
        "search_text": {"type": "string"},
        "max_minutes": _nullable("number"),
        "min_minutes": _nullable("number"),
        "language": _nullable("string"),
        "from_year": _nullable("integer"),
        "to_year": _nullable("integer"),
        "avoid_topics": _STRINGS,
        "liked": _STRINGS,
        "disliked": _STRINGS,
        "seen": _STRINGS,
        "include_seen": {"type": "boolean"},
    },
    # all required: with optional fields the 0.5B model fills them with values copied from the
    # instructions; with every field present it writes null / [] where nothing was said
    "required": [
        "wants_recommendations",
        "search_text",
        "max_minutes",
        "min_minutes",
        "language",
        "from_year",
        "to_year",
        "avoid_topics",
        "liked",
        "disliked",
        "seen",
        "include_seen",
    ],
    "additionalProperties": False,
}

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
_SEEN_RE = re.compile(
    r"\b(?:already|have|I've|i have)\s+(?:seen|watched|saw)\s+(?:the one about\s+)?"
    r"([^,.;!?]{3,80}?)\s*(?=[,.;!?]|$|\band\b|\bbut\b)",
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
        seen=tuple(
            m.group(1).strip() for m in _SEEN_RE.finditer(text) if content_words(m.group(1))
        ),
        avoid=tuple(
            m.group(1).strip().lower()
            for m in _AVOID_RE.finditer(text)
            if content_words(m.group(1))
            and not re.match(r"(?:more|longer|shorter|over|under|than)\b", m.group(1), re.I)
            and not read_vague_length(m.group(0)).phrase  # "not too lengthy" is a length
        ),
    )


def _duration(minutes: Any, stated: frozenset[float]) -> float | None:
    """LLM minutes -> seconds, or None when missing, nonsense, or not stated by the user."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return None
    seconds = float(minutes) * 60.0
    if not 0 < seconds <= MAX_DURATION_S:
        return None
    grounded = float(minutes) in stated or (float(minutes) / 60.0) in stated
    return seconds if grounded else None


def _year(value: Any, text: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 1900 <= value <= datetime.now(UTC).year + 1:
        return None
    # "before 2010" may come back as 2009: accept a year within one of a year the user wrote
    written = {int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", text)}
    return value if any(abs(value - y) <= 1 for y in written) else None


def _language(value: Any, text: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip().lower()
    code = LANGUAGES.get(value, value if len(value) == 2 and value.isalpha() else None)
    if code is None:
        return None
    names = [n for n, c in LANGUAGES.items() if c == code]
    lowered = text.lower()
    return code if any(n in lowered for n in names) or re.search(rf"\b{code}\b", lowered) else None


def _items(values: Any, user_words: set[str], *, forbid: set[str] | None = None) -> tuple[str, ...]:
    """Clean a list of strings: trimmed, deduplicated, grounded in what the user wrote."""
    if not isinstance(values, list):
        return ()
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            continue
        item = " ".join(value.split()).strip(" \"'.,;")[:MAX_ITEM_CHARS]
        words = set(content_words(item))
        if not item or not words or item.lower() in seen:
            continue
        if not words & user_words:
            continue  # not something the user said
        if forbid is not None and words <= forbid:
            continue  # merely repeats the search topic
        seen.add(item.lower())
        out.append(item)
        if len(out) >= MAX_ITEMS:
            break
    return tuple(out)


def _filters(data: dict[str, Any], rules: RuleParse, all_user_text: str) -> SearchFilters:
    max_d = _duration(data.get("max_minutes"), rules.numbers) or rules.max_duration
    min_d = _duration(data.get("min_minutes"), rules.numbers) or rules.min_duration
    if max_d is not None and min_d is not None and min_d >= max_d:
        max_d, min_d = rules.max_duration, rules.min_duration  # contradictory: trust the phrases
        if max_d is not None and min_d is not None and min_d >= max_d:
            max_d = min_d = None
    from_year = _year(data.get("from_year"), all_user_text)
    to_year = _year(data.get("to_year"), all_user_text)
    after = date(from_year, 1, 1) if from_year else rules.published_after
    before = date(to_year, 12, 31) if to_year else rules.published_before
    if after and before and after > before:
        after, before = rules.published_after, rules.published_before
        if after and before and after > before:
            after = before = None
    language = _language(data.get("language"), all_user_text) or rules.language
    user_words = set(content_words(all_user_text))
    avoid = _items(data.get("avoid_topics"), user_words) or rules.avoid
    return SearchFilters(
        min_duration=min_d,
        max_duration=max_d,
        published_after=after,
        published_before=before,
        languages=(language,) if language else (),
        tags_none=tuple(a.lower() for a in avoid),
    )


def search_text_of(value: Any, messages: Sequence[Message]) -> str:
    """The model's query, or the user's own words when it is empty or says nothing."""
    text = " ".join(value.split())[:MAX_SEARCH_CHARS] if isinstance(value, str) else ""
    users = user_texts(messages)
    latest = users[-1] if users else ""
    query = text if content_words(text) else latest
    if not content_words(latest) and len(users) > 1 and not content_words(text):
        # a bare refinement ("shorter ones?"): carry the previous request's topic over
        query = f"{users[-2]} {latest}"
    return " ".join(query.split())[:MAX_SEARCH_CHARS]


def normalise_understanding(data: Any, messages: Sequence[Message]) -> TurnUnderstanding:
    """Validate the model's JSON (schema-valid or not) into a :class:`TurnUnderstanding`."""
    if not isinstance(data, dict):
        data = {}
    latest = last_user(messages)
    all_user_text = "\n".join(user_texts(messages))
    rules = parse_rules(latest)
    filters = _filters(data, rules, all_user_text)
    search_text = search_text_of(data.get("search_text"), messages)
    user_words = set(content_words(all_user_text))
    query_words = set(content_words(search_text))

    wants = data.get("wants_recommendations")
    wants = bool(wants) if isinstance(wants, bool) else True
    if taste_only(latest):
        # nothing to search for: the profile and the collaborative score rank (agent.ranking)
        search_text, wants = "", True
    if rules.wants_recommendations is True:
        wants = True
    elif rules.wants_recommendations is False and not content_words(latest):
        wants = False
    include_seen = (data.get("include_seen") is True and rules.include_seen) or bool(
        re.search(
            r"\b(rewatch|re-watch|watch (?:it |them )?again|see (?:it |them )?again)\b",
            latest,
            re.I,
        )
    )
    seen = tuple(dict.fromkeys((*_items(data.get("seen"), user_words), *rules.seen)))
    said_seen = {x.lower() for x in seen}
    return TurnUnderstanding(
        search_text=search_text if wants else "",
        wants_recommendations=wants,
        filters=filters,
        # "I already saw X" is not a like, whatever the model says
        liked=tuple(x for x in _items(data.get("liked"), user_words) if x.lower() not in said_seen),
        disliked=_items(data.get("disliked"), user_words, forbid=query_words),
        seen=seen,
        include_seen=include_seen,
    )


class Understander:
    """Turns the conversation into a :class:`TurnUnderstanding` with one LLM call."""

    def __init__(self, llm: LLM, *, max_tokens: int = 256) -> None:
        self.llm = llm
        self.prompt = load_prompt("understand")
        self.max_tokens = max_tokens

    def understand(self, messages: Sequence[Message]) -> TurnUnderstanding:
        rendered = self.prompt.render(conversation=render_conversation(messages))
        try:
            completion = self.llm.complete(
                rendered,
                schema=UNDERSTAND_SCHEMA,
                max_tokens=self.max_tokens,
                temperature=0.0,
                tag=self.prompt.tag,
            )
            data = completion.data
        except LLMOutputError as exc:
            log.warning("understanding fell back to rules: %s", exc)
            data = {}
        result = normalise_understanding(data, messages)
        log.debug("understood %r -> %s", last_user(messages)[:80], result)
        return result


def merge_filters(understood: SearchFilters, given: SearchFilters | None) -> SearchFilters:
    """Filters the caller passed win field by field over understood ones; exclusions add up."""
    if given is None:
        return understood
    return replace(
        understood,
        min_duration=given.min_duration
        if given.min_duration is not None
        else understood.min_duration,
        max_duration=given.max_duration
        if given.max_duration is not None
        else understood.max_duration,
        published_after=given.published_after or understood.published_after,
        published_before=given.published_before or understood.published_before,
        languages=given.languages or understood.languages,
        tags_any=given.tags_any or understood.tags_any,
        tags_none=tuple(dict.fromkeys((*understood.tags_none, *given.tags_none))),
        exclude_ids=understood.exclude_ids | given.exclude_ids,
    )
